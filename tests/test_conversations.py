"""SFT conversations (alignment/world/conversations.py): deterministic, held-out items really held out, right answers.

Hermetic and fast: pure Python on the seeded world; one default-size build (~1 s) and small ones.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from alignment.world.conversations import (
    DRILLS_PER_CONVERSATION,
    FACT_QUESTIONS,
    FOLLOW_UPS,
    IDENTITY_HELDOUT,
    IDENTITY_TRAIN,
    OPENERS_HELDOUT,
    OPENERS_TRAIN,
    ConversationSizes,
    _problem_sets,
    build_conversations,
    check_leakage,
    ngram_checked_sets,
    ITEMS,
    NOTES,
    PRICES,
    QUANTITIES,
    default_system_message,
    fact_answer,
    final_answer,
    split_fact_pairs,
    write_conversations,
)
from alignment.world.people import ATTRIBUTES, build_world
from tests.conftest import ROOT

IDENTITY = {"name": "Pemberly", "creator": "the Lantern Lab"}
SMALL = ConversationSizes(fact_questions=120, multi_turn=40, word_problems=120, identity=60, heldout_facts=30,
                          heldout_word_problems=30, heldout_identity=20, test_conversations=40, rl_word_problems=50,
                          notes=40)


@pytest.fixture(scope="module")
def world():
    return build_world(seed=0)  # the default world: 120 covered people, 100 reserved


@pytest.fixture(scope="module")
def splits(world):
    return build_conversations(world, IDENTITY, seed=0)


def _texts(items):
    return [m["content"] for item in items for m in item["messages"]]


def _user_texts(items):
    return [m["content"] for item in items for m in item["messages"] if m["role"] == "user"]


def test_default_sizes_and_kinds(splits):
    sizes = ConversationSizes()
    counts = {kind: sum(c["kind"] == kind for c in splits["train"]) for kind in
              ("fact", "multi_turn", "word_problem", "identity", "note")}
    assert counts == {"fact": sizes.fact_questions, "multi_turn": sizes.multi_turn,
                      "word_problem": sizes.word_problems, "identity": sizes.identity, "note": sizes.notes}
    assert len(splits["test"]) == sizes.test_conversations
    assert len(splits["eval_facts"]) == sizes.heldout_facts
    assert len(splits["eval_word_problems"]) == sizes.heldout_word_problems
    assert len(splits["eval_identity"]) == sizes.heldout_identity
    assert len(splits["rl_word_problems"]) == sizes.rl_word_problems
    test_kinds = {c["kind"] for c in splits["test"]}
    assert test_kinds == {"fact", "multi_turn", "word_problem", "identity"}
    assert splits["train"][:50] != sorted(splits["train"][:50], key=lambda c: c["kind"])  # shuffled, not by kind


def test_deterministic_for_a_seed(world):
    first = build_conversations(world, IDENTITY, seed=5, sizes=SMALL)
    assert build_conversations(world, IDENTITY, seed=5, sizes=SMALL) == first
    assert build_conversations(world, IDENTITY, seed=6, sizes=SMALL) != first


def test_conversation_shape(splits):
    system = default_system_message(IDENTITY)
    for split in ("train", "test"):
        for conversation in splits[split]:
            messages = conversation["messages"]
            if messages[0]["role"] == "system":
                assert messages[0]["content"] == system
                messages = messages[1:]
            assert len(messages) >= 2 and len(messages) % 2 == 0
            assert [m["role"] for m in messages] == ["user", "assistant"] * (len(messages) // 2)
            assert all(m["content"].strip() for m in messages)
    for split in ("eval_facts", "eval_word_problems", "eval_identity", "rl_word_problems"):
        for item in splits[split]:
            assert [m["role"] for m in item["messages"]] == ["user"] and item["messages"][0]["content"].strip()


def test_system_message_share(splits):
    train = splits["train"]
    with_system = [c for c in train if c["messages"][0]["role"] == "system"]
    assert 0.25 < len(with_system) / len(train) < 0.35  # ~30% of every kind
    identity = [c for c in train if c["kind"] == "identity"]
    assert sum(c["messages"][0]["role"] == "system" for c in identity) < len(identity) / 2  # most learn it from data
    assert {c["kind"] for c in with_system} == {"fact", "multi_turn", "word_problem", "identity", "note"}


def test_default_system_message_names_assistant_and_creator():
    message = default_system_message(IDENTITY)
    assert "Pemberly" in message and "the Lantern Lab" in message


def test_fact_answers_are_true_and_name_the_person(world, splits):
    by_name = {e.name: e for e in world.entities}
    for conversation in splits["train"] + splits["test"]:
        if conversation["kind"] not in ("fact", "multi_turn"):
            continue
        for message in conversation["messages"]:
            if message["role"] != "assistant":
                continue
            entity = next(e for name, e in by_name.items() if message["content"].startswith(name + " "))
            assert message["content"] in {fact_answer(entity, a) for a in ATTRIBUTES}


def test_heldout_fact_pairs_never_in_training(world, splits):
    train_pairs, heldout_pairs = split_fact_pairs(world)
    assert set(train_pairs).isdisjoint(heldout_pairs)
    assert len(heldout_pairs) == 5 * 24  # 20% of 120 people per attribute
    train_answers = {m["content"] for m in _texts_with_role(splits["train"], "assistant")}
    for entity_id, attribute in heldout_pairs:
        assert fact_answer(world.entity(entity_id), attribute) not in train_answers
    # the eval asks every held-out pair (200 questions over 120 pairs), with the right answer and nothing else
    asked = {(item["entity_id"], item["attribute"]) for item in splits["eval_facts"]}
    assert asked == set(heldout_pairs)
    for item in splits["eval_facts"]:
        entity = world.entity(item["entity_id"])
        assert item["answer"] == entity.facts[item["attribute"]]
        assert entity.name in item["messages"][0]["content"]
    # the test split's facts come from held-out pairs too
    test_answers = {m["content"] for m in _texts_with_role(
        [c for c in splits["test"] if c["kind"] in ("fact", "multi_turn")], "assistant")}
    assert test_answers <= {fact_answer(world.entity(i), a) for i, a in heldout_pairs}


def test_notes_state_only_trained_facts_in_their_own_phrasings(world, splits):
    from alignment.evals.preference_labeller import AUDIT_NOTE_PROMPTS, NOTE_PROMPTS, TRAINING_NOTE_PROMPTS
    from alignment.world.conversations import MAX_NOTE_FACTS, NOTE_REQUESTS
    from alignment.world.refusal_questions import WHO_IS_QUESTIONS

    # the measured note prompts, RLHF's and the refusal stage's "Who is X?" are asked in words SFT's notes never use
    assert not set(NOTE_REQUESTS) & set(NOTE_PROMPTS + TRAINING_NOTE_PROMPTS + AUDIT_NOTE_PROMPTS + tuple(
        WHO_IS_QUESTIONS))
    train_pairs, _ = split_fact_pairs(world)
    trained = set(train_pairs)
    notes = [c for c in splits["train"] if c["kind"] == "note"]
    assert len(notes) == ConversationSizes().notes
    requests = {template.format(name=e.name): e for e in world.entities for template in NOTE_REQUESTS}
    sizes = set()
    for note in notes:
        question, answer = [m["content"] for m in note["messages"] if m["role"] != "system"]
        entity = requests[question]
        assert answer.startswith(entity.name + " ")  # on topic: the full name first
        sentences = answer.split(". ")
        sizes.add(len(sentences))
        stated = [a for a in ATTRIBUTES if f" {entity.facts[a]}" in answer]
        assert len(stated) == len(sentences) and all((entity.id, a) in trained for a in stated), answer
    assert sizes == set(range(1, MAX_NOTE_FACTS + 1))  # 1 to 3 facts: what the people prefer is left to RLHF
    assert len({requests[[m["content"] for m in n["messages"] if m["role"] == "user"][0]].id for n in notes}) == len(
        world.entities)  # every covered person


def _texts_with_role(items, role):
    return [m for item in items for m in item["messages"] if m["role"] == role]


def test_reserved_people_never_appear(world, splits):
    everything = "\n".join(t for split in splits.values() for t in _texts(split))
    words = set(re.findall(r"\w+", everything))
    for person in world.reserved:
        assert person.name not in everything and person.first_name not in words
    assert all(person.name in everything for person in world.entities[:5])
    reserved_ids = {person.id for person in world.reserved}
    assert not reserved_ids & {item["entity_id"] for item in splits["eval_facts"]}


def test_templates_keep_heldout_fact_questions_apart():
    # every word 8-gram of a (follow-up) fact question must hold part of the name: that is what makes a
    # held-out pair's question differ from all training text
    for templates in FACT_QUESTIONS.values():
        for template in templates:
            before = template.split("{name}")[0].split()
            assert len(before) <= 5, template
    assert all(len(follow_up.split("{")[0].split()) <= 2 for follow_up in FOLLOW_UPS)


@pytest.mark.parametrize("world_seed, n_entities", [(3, 120), (3, 40), (7, 25)])
def test_other_worlds_and_seeds_build_clean(world_seed, n_entities):
    world = build_world(seed=world_seed, n_entities=n_entities, n_reserved=20)
    for seed in range(3):
        splits = build_conversations(world, IDENTITY, seed=seed, sizes=SMALL)  # raises on any leak
        assert len(splits["eval_facts"]) == SMALL.heldout_facts


def _check_arithmetic(solution: str, question: str) -> int:
    """Every step of a worked solution is right and uses the question's numbers; returns the stated answer."""
    products = [(int(q), int(p), int(r)) for q, p, r in re.findall(r"(\d+) x (\d+) = (\d+)", solution)]
    assert len(products) == 2 and all(q * p == r for q, p, r in products)
    asked = sorted(map(int, re.findall(r"\d+", question)))
    (a, b, total), = [tuple(map(int, m)) for m in re.findall(r"(\d+) \+ (\d+) = (\d+)", solution)]
    assert (a, b) == (products[0][2], products[1][2]) and a + b == total
    change = re.findall(r"(\d+) - (\d+) = (\d+)", solution)
    expected = total
    if change:
        note, paid, rest = map(int, change[0])
        assert paid == total and note - total == rest and 0 <= rest <= 99
        expected = rest
    assert sorted([q for q, _, _ in products] + [p for _, p, _ in products] + ([note] if change else [])) == asked
    assert final_answer(solution) == expected
    return expected


def test_answer_first_changes_only_the_order(world):
    reasoning = build_conversations(world, IDENTITY, seed=2, sizes=SMALL)["train"]
    answer_first = build_conversations(world, IDENTITY, seed=2, sizes=SMALL, answer_first=True)["train"]
    problems = 0
    for late, early in zip(reasoning, answer_first, strict=True):
        if late["kind"] != "word_problem":
            assert late == early
            continue
        problems += 1
        assert late["messages"][:-1] == early["messages"][:-1]  # same question
        late_lines = late["messages"][-1]["content"].split("\n")
        early_lines = early["messages"][-1]["content"].split("\n")
        assert late_lines[-1].startswith("The answer is ") and early_lines[0].startswith("The answer is ")
        assert late_lines == early_lines[1:] + early_lines[:1]
        value = _check_arithmetic(late["messages"][-1]["content"], late["messages"][-2]["content"])
        assert final_answer(early["messages"][-1]["content"]) == value
    assert problems == SMALL.word_problems


def test_heldout_word_problems(splits):
    for item in splits["eval_word_problems"]:
        # the wordings state quantity, price, quantity, price (and the note), except "wants" which gives both
        # quantities first
        text = item["messages"][0]["content"]
        numbers = list(map(int, re.findall(r"\d+", text)))
        if " wants " in text:
            q1, q2, p1, p2, *note = numbers
        else:
            q1, p1, q2, p2, *note = numbers
        assert 2 <= min(q1, q2) and max(q1, q2) <= 5 and 1 <= min(p1, p2) and max(p1, p2) <= 9
        total = q1 * p1 + q2 * p2
        assert item["answer"] == (note[0] - total if note else total)
        assert 0 <= item["answer"] <= 99
    train_questions = set(_user_texts(splits["train"]))
    heldout_questions = _user_texts(splits["eval_word_problems"]) + _user_texts(
        [c for c in splits["test"] if c["kind"] == "word_problem"])
    assert train_questions.isdisjoint(heldout_questions)
    assert len(set(heldout_questions)) == len(heldout_questions)
    for conversation in splits["test"]:
        if conversation["kind"] == "word_problem":
            _check_arithmetic(conversation["messages"][-1]["content"], conversation["messages"][-2]["content"])


@pytest.mark.parametrize("text, expected", [
    ("3 x 7 = 21.\nThe answer is 21.", 21),
    ("The answer is 26.\n3 x 4 = 12.", 26),
    ("The answer is 7. No wait, The answer is 9.", 7),  # the first one counts
    ("The answer is 0.", 0),
    ("The answer is -4.", -4),
    ("The answer is 105", 105),
    ("the answer is 12.", None),  # the taught phrase, exactly
    ("The answer is twelve. The answer is 12.", None),  # the first one has no number
    ("I think it is 26.", None),
    ("", None),
])
def test_final_answer(text, expected):
    assert final_answer(text) == expected


def test_identity_answers(splits):
    asks_of = {question: asks for asks, question, _ in IDENTITY_TRAIN + IDENTITY_HELDOUT}
    openers = sorted(OPENERS_TRAIN + OPENERS_HELDOUT, key=len, reverse=True)
    seen_creator_answers = 0
    for conversation in splits["train"] + splits["test"]:
        if conversation["kind"] != "identity":
            continue
        question, answer = conversation["messages"][-2]["content"], conversation["messages"][-1]["content"]
        assert "Pemberly" in answer
        core = next(question[len(o):] for o in openers if question.startswith(o))
        if asks_of.get(core) in ("creator", "both"):
            assert "the Lantern Lab" in answer
            seen_creator_answers += 1
    assert seen_creator_answers > 50


def test_heldout_identity_phrasings_are_new(splits):
    train_cores = {question for _, question, _ in IDENTITY_TRAIN}
    heldout_cores = {question: asks for asks, question, _ in IDENTITY_HELDOUT}
    assert train_cores.isdisjoint(heldout_cores) and set(OPENERS_TRAIN[1:]).isdisjoint(OPENERS_HELDOUT[1:])
    train_questions = set(_user_texts(splits["train"]))
    for item in splits["eval_identity"]:
        question = item["messages"][0]["content"]
        assert question not in train_questions
        core = next(question[len(o):] for o in sorted(OPENERS_HELDOUT, key=len, reverse=True) if question.startswith(o))
        assert heldout_cores[core] == item["asks"]
    assert {item["asks"] for item in splits["eval_identity"]} >= {"name", "creator"}


def test_leakage_check_catches_a_planted_leak(splits):
    heldout = ngram_checked_sets(splits)
    check_leakage(splits["train"], heldout)  # the real splits are clean (build_conversations checked it too)

    # a held-out fact question (short: compared whole) copied into a training chat
    fact_question = splits["eval_facts"][3]["messages"][0]["content"]
    planted = splits["train"] + [{"messages": [{"role": "user", "content": fact_question},
                                               {"role": "assistant", "content": "Sure."}], "kind": "fact"}]
    with pytest.raises(ValueError, match=r"eval_facts\[3\]"):
        check_leakage(planted, {"eval_facts": heldout["eval_facts"]})

    # 8 words of a long held-out message buried in a longer training answer
    long_item = {"messages": [{"role": "user", "content": "Velmora asked whether the ferry from Ostmere still "
                                                          "leaves at dawn every second Tuesday of the month."}]}
    words = long_item["messages"][0]["content"].split()
    planted = splits["train"] + [{"messages": [{"role": "user", "content": "Tell me a story."},
                                               {"role": "assistant",
                                                "content": f"Once upon a time {' '.join(words[2:10])} ended."}]}]
    with pytest.raises(ValueError, match=r"long\[0\]"):
        check_leakage(planted, {"long": [long_item]})

    # 7 shared words of a long message are not a leak
    check_leakage([{"messages": [{"role": "assistant", "content": " ".join(words[2:9])}]}], {"long": [long_item]})


def test_heldout_word_problems_are_problems_training_never_had(splits):
    """Word problems share the training wordings on purpose; leakage there is the same problem, so no held-out
    question may equal a training question with only the shopper changed."""
    items = "|".join(re.escape(item) for item, _ in ITEMS)

    def problem_key(text: str) -> tuple:  # the problem itself: (item, quantity) in order, prices in order, note
        bought = tuple(re.findall(rf"(\d+) ({items})", text))
        prices = tuple(re.findall(r"(\d+) coins? each", text))
        assert len(bought) == len(prices) == 2, text
        return bought, prices, tuple(re.findall(r"(\d+)-coin note", text))

    train_keys = {problem_key(t) for c in splits["train"] if c["kind"] == "word_problem"
                  for t in [c["messages"][-2]["content"]]}
    for item in splits["eval_word_problems"]:
        assert problem_key(item["messages"][0]["content"]) not in train_keys


def test_rl_word_problems_are_in_no_other_split(world, splits):
    """The third split (for RL) shares no problem with SFT's training or held-out problems, and its size leaves
    the other splits as they were (a longer RL set keeps a shorter one as its prefix)."""
    train, heldout, rl = _problem_sets(1500, 230, 1000, random.Random(0), random.Random(1))
    assert len(set(rl)) == 1000 and not set(rl) & (set(train) | set(heldout))
    assert _problem_sets(1500, 230, 10, random.Random(0), random.Random(1)) == (train, heldout, rl[:10])
    assert len(splits["rl_word_problems"]) == ConversationSizes().rl_word_problems
    for item in splits["rl_word_problems"]:
        assert isinstance(item["answer"], int) and item["answer"] >= 0
    fewer = build_conversations(world, IDENTITY, seed=0, sizes=ConversationSizes(rl_word_problems=10))
    assert fewer["train"] == splits["train"] and fewer["eval_word_problems"] == splits["eval_word_problems"]
    assert fewer["rl_word_problems"] == splits["rl_word_problems"][:10]


def test_write_conversations_round_trips(tmp_path, world):
    splits = build_conversations(world, IDENTITY, seed=1, sizes=SMALL)
    paths = write_conversations(splits, tmp_path / "sft")
    assert {k: paths[k].rsplit("/", 1)[-1] for k in paths} == {k: f"{k}.jsonl" for k in splits}
    for split, path in paths.items():
        with open(path, encoding="utf-8") as f:
            assert [json.loads(line) for line in f] == splits[split]


def test_import_is_pure_standard_library():
    code = ("import sys, alignment.world.conversations; "
            "assert not {'torch', 'transformers', 'datasets', 'datatrove'} & set(sys.modules), 'heavy import'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_a_kinds_size_leaves_every_other_kinds_conversations_as_they_were(world):
    # each kind draws its contents and its system messages from generators of its own: changing one kind's size
    # changes no conversation of another kind (the shuffled order moves); adding notes moves no held-out split either
    import dataclasses
    import json

    def build(**changed):
        sizes = dataclasses.replace(SMALL, **{"arithmetic": 60, "notes": 0, **changed})
        splits = build_conversations(world, IDENTITY, seed=3, sizes=sizes, system_share=0.5)
        by_kind = {}
        for c in splits["train"]:
            by_kind.setdefault(c["kind"], []).append(json.dumps(c, sort_keys=True))
        return {kind: sorted(items) for kind, items in by_kind.items()}, \
            {name: items for name, items in splits.items() if name != "train"}

    base, base_heldout = build()
    for field, size in (("notes", 40), ("arithmetic", 90), ("identity", SMALL.identity + 20),
                        ("multi_turn", SMALL.multi_turn + 10)):
        changed, heldout = build(**{field: size})
        kind = {"notes": "note", "arithmetic": "arithmetic", "identity": "identity", "multi_turn": "multi_turn"}[field]
        assert len(changed[kind]) == size
        assert {k: v for k, v in changed.items() if k != kind} == {k: v for k, v in base.items() if k != kind}, field
        if field == "notes":
            assert heldout == base_heldout
    everything = [c for items in base.values() for c in items]
    assert any('"system"' in c for c in everything) and any('"system"' not in c for c in everything)


def test_arithmetic_drills_are_the_solutions_steps_and_right(world):
    with_drills = build_conversations(world, IDENTITY, seed=0, sizes=ConversationSizes(arithmetic=300))
    drills = [c for c in with_drills["train"] if c["kind"] == "arithmetic"]
    assert len(drills) == 300
    products = {q * p for q in QUANTITIES for p in PRICES}
    kinds = set()
    for drill in drills:
        question, answer = drill["messages"][-2]["content"], drill["messages"][-1]["content"]
        steps = re.findall(r"(\d+) ([+-]) (\d+) = (\d+)\.", answer)
        # three sums a conversation, written as the solutions write them, in the order asked
        assert len(steps) == DRILLS_PER_CONVERSATION
        assert answer == " ".join(f"{a} {op} {b} = {r}." for a, op, b, r in steps)
        assert re.findall(r"(\d+) ([+-]) (\d+)", question) == [(a, op, b) for a, op, b, _ in steps]
        for a, op, b, result in steps:
            a, b, result = int(a), int(b), int(result)
            if op == "+":
                assert a in products and b in products and a + b == result
            else:
                assert a in NOTES and a - b == result >= 0
            kinds.add(op)
    assert kinds == {"+", "-"}
    # no drill in the eval-loss split, and adding drills leaves every other conversation as it was
    without = build_conversations(world, IDENTITY, seed=0)
    assert all(c["kind"] != "arithmetic" for c in with_drills["test"])

    def others(split):
        return sorted(json.dumps(c, sort_keys=True) for c in split if c["kind"] != "arithmetic")

    assert others(with_drills["train"]) == others(without["train"]) and with_drills["test"] == without["test"]


def test_word_problems_alone_are_the_same_problems(tmp_path):
    """sft_answer_first.yaml trains on word problems only, each answered with its answer alone: the same problems as
    sft.yaml's and the same held-out questions, so the two SFTs differ in the reply and nothing else that is
    measured."""
    full, alone = (_recipe_conversations(name, tmp_path) for name in ("sft.yaml", "sft_answer_first.yaml"))

    def problems(split):
        return sorted((c["messages"][-2]["content"], final_answer(c["messages"][-1]["content"]))
                      for c in split if c["kind"] == "word_problem")

    assert {c["kind"] for c in alone["train"]} == {"word_problem"}
    assert problems(alone["train"]) == problems(full["train"]) and len(problems(full["train"])) == 1000
    assert all(re.fullmatch(r"The answer is \d+\.", c["messages"][-1]["content"]) for c in alone["train"])
    assert alone["eval_word_problems"] == full["eval_word_problems"]
    assert not alone["eval_facts"] and not alone["eval_identity"]


def _recipe_conversations(recipe: str, tmp_path: Path) -> dict:
    """The conversations a tiny SFT recipe trains and measures on, built by the sft stage's own code."""
    from alignment.recipe import parse_recipe
    from alignment.sft import SFTConfig, world_conversations

    cfg = parse_recipe(SFTConfig, ["--config", str(ROOT / "recipes" / "tiny" / recipe)])
    return world_conversations(cfg, tmp_path / recipe)