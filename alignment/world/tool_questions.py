"""Questions for the tool_use stage, and conversations that answer them by running the real tools.

The picture from "Deep Dive into LLMs like ChatGPT": a model sees tokens, not letters, so "How many r's are in
'strawberry'?" and 347 x 589 are beyond it; so are facts it never learnt. With tools it writes a program or a
search, reads the result in its context window, and answers from that.

Kinds of questions (every kind has a training share and a held-out share, disjoint):
- letters: how often a letter occurs in a word. Words come from the mini-web's own vocabulary
  (alignment/world/page_templates.py), split by a seeded hash: held-out words never occur in a training question;
  the held-out ones are words with a repeated letter, asked so that the counts spread (letter_item);
- products: 3-digit x 3-digit, pairs split by a seeded hash;
- comparisons: "Which is bigger, 9.11 or 9.9?" (decimals whose digit count misleads), split the same way;
- search: facts of covered people (SFT's held-out pairs, which the assistant mostly does not know, for the
  measurement; the trained pairs for training) and reserved people, whom no page mentions ("I couldn't find
  anything about X."); the reserved people are split as the refusal stage splits them, so its measured set (a)
  stays out of every training set.

A conversation is built by running the tool for real (the python sandbox, the search index): the result in it is
what the tool returned. Pure standard library apart from the tools; deterministic for a seed and an index.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import replace

from alignment.world.conversations import fact_answer, fact_question, split_fact_pairs
from alignment.world.people import World

LETTER_QUESTIONS = ["How many {letter}'s are in '{word}'?", "How many times does the letter {letter} appear in "
                    "'{word}'?", "Count the letter {letter} in the word '{word}'."]
PRODUCT_QUESTIONS = ["What is {a} x {b}?", "What is {a} times {b}?", "Work out {a} x {b}."]
COMPARISON_QUESTIONS = ["Which is bigger, {x} or {y}?", "Which number is larger: {x} or {y}?"]
NOT_FOUND = "I couldn't find anything about {name}."
NOT_FOUND_MARK = "couldn't find"  # what the measurement looks for in a "not found" answer
# What a search for a fact adds to the name: the words the pages use near it. Lexical search cannot map "What does X
# do for a living?" to "a potter"; the pages say "from", "born", "played the fiddle", "member". Measured on the tiny
# corpus's index, the fact's value in the top 2 passages, of the 60 trained + held-out pairs of each kind: hometown
# "from" 58 ("born" 56), birth year "born" 54, profession "work" 58, instrument "played player music" 59 ("plays"
# 22: the pages say it a dozen ways), organisation "joined member" 46 ("member" 38); 275 of 300 in all.
SEARCH_WORDS = {"hometown": "from", "birth_year": "born", "profession": "work", "instrument": "played player music",
                "organisation": "joined member"}


# Which words, products and comparisons are held out is fixed, not a stage's seed: tool_use trains on one side and
# eval measures the other, each with its own seed. (The salt is the one seed 0 gave, so the split stayed as it was.)
HELD_OUT_SALT = "tool-questions/0"


def _held_out(key: str, share: float = 0.2) -> bool:
    digest = hashlib.sha256(f"{HELD_OUT_SALT}/{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < share * 2**64


def vocabulary() -> list[str]:
    """Lower-case words of 5-11 letters that the mini-web's templates use, sorted."""
    from alignment.world import page_templates

    text = repr([getattr(page_templates, name) for name in dir(page_templates) if name.isupper()])
    return sorted({w for w in re.findall(r"\b[a-z]{5,11}\b", text)})


def letter_item(word: str, rng: random.Random, spread: bool = False) -> dict:
    """Training questions: mostly a letter the word has, sometimes one it lacks (the answer 0). Measured ones
    (`spread`): a letter the word lacks a quarter of the time, one it has once a quarter of the time, else its most
    frequent one: the 40 held-out questions (seed 0) answer 0 / 1 / 2 / 3 9 / 13 / 15 / 3 times. Drawn as the
    training ones are, 29 of the 40 were 1, and a model that always answered 1 scored 72.5%. The training
    questions stay as they were: trained on spread counts too (bf16, Zen 4, one run), the assistant's calls held
    the asked word in 0 of 40 questions either way, and identity with tools offered fell from 92% to 86%."""
    draw = rng.random()
    absent = [c for c in "abcdefghijklmnopqrstuvwxyz" if c not in word]
    counts = {c: word.count(c) for c in sorted(set(word))}
    once = [c for c, n in counts.items() if n == 1]
    if not spread:
        letter = rng.choice(word) if draw < 0.85 else rng.choice(absent)
    elif draw < 0.25:
        letter = rng.choice(absent)
    elif draw < 0.5 and once:
        letter = rng.choice(once)
    else:
        letter = rng.choice([c for c, n in counts.items() if n == max(counts.values())])
    return {"kind": "letters", "word": word, "letter": letter, "answer": str(word.count(letter)),
            "question": rng.choice(LETTER_QUESTIONS).format(letter=letter, word=word),
            "tool": "python", "arguments": {"code": f"print({word!r}.count({letter!r}))"}}


def product_item(a: int, b: int, rng: random.Random) -> dict:
    return {"kind": "products", "answer": str(a * b), "question": rng.choice(PRODUCT_QUESTIONS).format(a=a, b=b),
            "tool": "python", "arguments": {"code": f"print({a} * {b})"}}


def comparison_item(x: str, y: str, rng: random.Random) -> dict:
    return {"kind": "comparisons", "answer": max(x, y, key=float),
            "question": rng.choice(COMPARISON_QUESTIONS).format(x=x, y=y),
            "tool": "python", "arguments": {"code": f"print(max({x}, {y}))"}}


def _decimal_pair(rng: random.Random) -> tuple[str, str]:
    """Like 9.11 and 9.9: same whole part, the one with more decimal digits smaller half the time."""
    whole = rng.randint(1, 20)
    short, long = rng.randint(1, 9), rng.choice([n for n in range(10, 100) if n % 10])  # 9.50 prints as 9.5
    pair = [f"{whole}.{short}", f"{whole}.{long}"]
    rng.shuffle(pair)
    return pair[0], pair[1]


PYTHON_KINDS = ("letters", "products", "comparisons")


def python_sets_by_kind(items: list[dict]) -> dict[str, list[dict]]:
    """Held-out python questions as the measured sets: eval_letters, eval_products, eval_comparisons."""
    return {f"eval_{kind}": [i for i in items if i["kind"] == kind] for kind in PYTHON_KINDS}


def python_items(seed: int, n_train: int, n_heldout: int) -> tuple[list[dict], list[dict]]:
    """(training items, held-out items) of the three python kinds, about a third each: the split is fixed
    (_held_out), `seed` draws the items on each side."""
    words = vocabulary()
    train_words = [w for w in words if not _held_out(w)]
    # measured: words with a repeated letter (626 of the 1,025), the "strawberry" case, where a count is more than a
    # yes or no (the held-out products and comparisons come after them in one draw: 23 and 32 of the 40 stayed)
    heldout_words = [w for w in words if _held_out(w) and len(set(w)) < len(w)]
    out = {True: [], False: []}
    for heldout, count in ((False, n_train), (True, n_heldout)):
        # a draw of its own for each side: the held-out questions stay the same when the training count changes
        rng = random.Random(f"tool-questions/{seed}/python/{'heldout' if heldout else 'train'}")
        pool = heldout_words if heldout else train_words
        seen = set()
        while len(out[heldout]) < count:
            kind = len(out[heldout]) % 3
            if kind == 0:
                item = letter_item(rng.choice(pool), rng, spread=heldout)
                key = f"letters/{item['word']}"
            elif kind == 1:
                a, b = rng.randint(100, 999), rng.randint(100, 999)
                if _held_out(f"{a}x{b}") != heldout:
                    continue
                item, key = product_item(a, b, rng), f"{a}x{b}"
            else:
                x, y = _decimal_pair(rng)
                if _held_out(f"{min(x, y)}|{max(x, y)}") != heldout:
                    continue
                item, key = comparison_item(x, y, rng), f"{x}|{y}"
            if kind and key in seen:
                continue
            seen.add(key)
            out[heldout].append(item)
    return out[False], out[True]


def search_items(world: World, seed: int, invented: int = 0, readable: int = 0) -> dict[str, list[dict]]:
    """{"train": ..., "eval_found": ..., "eval_not_found": ..., "readable_people": [Entity, ...]}: fact questions
    to answer by searching. `invented`: this many more never-seen people (world/people.py invented_people, as the
    refusal stage draws them) searched for in training, found nowhere: more new names for the assistant to copy into
    a query and into its answer. `readable`: this many more, disjoint from those, whom pages the training index
    alone holds describe (miniweb.person_pages), each asked one fact: answers that only reading can give. Trained
    only on the covered people's SFT pairs, which it knows by heart, the assistant answered from memory and not
    from the passages (held-out facts with search: 3.3% correct, measured)."""
    from alignment.world.people import invented_people

    from alignment.world.refusal_questions import measured_reserved_people

    rng = random.Random(f"tool-questions/{seed}/search")
    train_pairs, heldout_pairs = split_fact_pairs(world)
    # the refusal stage's split of the reserved people: its measured set (a) is measured here too, never trained on
    measured = {e.id for e in measured_reserved_people(world)}
    probe_reserved = [e for e in world.reserved if e.id not in measured]
    measured_reserved = [e for e in world.reserved if e.id in measured]

    def not_found(entity) -> dict:
        attribute = rng.choice(sorted(entity.facts))
        return {"kind": "search", "found": False, "name": entity.name, "attribute": attribute,
                "truth": entity.facts[attribute], "question": fact_question(entity, attribute, rng), "answer": NOT_FOUND.format(name=entity.name),
                "tool": "search", "arguments": {"query": f"{entity.name} {SEARCH_WORDS[attribute]}"}}

    read_rng = random.Random(f"tool-questions/{seed}/search/readable")  # its own: the other sets stay as they are

    def read(entity) -> dict:
        return {**found_item(entity, read_rng.choice(sorted(entity.facts)), read_rng), "readable": True}

    def found(entity_id: str, attribute: str) -> dict:
        return found_item(world.entity(entity_id), attribute, rng)

    def found_item(entity, attribute: str, rng: random.Random) -> dict:
        return {"kind": "search", "found": True, "name": entity.name, "attribute": attribute,
                "truth": entity.facts[attribute], "question": fact_question(entity, attribute, rng),
                "answer": fact_answer(entity, attribute), "tool": "search",
                "arguments": {"query": f"{entity.name} {SEARCH_WORDS[attribute]}"}}

    extra = invented_people(world, invented, seed) if invented else []
    # the name syllables hold ~320 people with a first name and a surname of their own: readable people are a draw
    # of their own (seed + 1), sharing syllables with the unfound ones but never a full name (then a search for an
    # unfound "Darvin Kestle" may bring pages about "Darvin Calett": not a find, which is worth learning too)
    taken = {e.name for e in extra}
    readers = [replace(e, id=f"r{e.id[1:]}") for e in invented_people(world, readable, seed + 1)
               if e.name not in taken] if readable else []  # ids of their own: r0000..., beside x0000...
    train = [found(*p) for p in train_pairs] + [not_found(e) for e in probe_reserved + extra]
    return {"train": train + [read(e) for e in readers],
            "eval_found": [found(*p) for p in heldout_pairs],
            "eval_not_found": [not_found(e) for e in measured_reserved],
            "readable_people": readers}


def tool_conversation(item: dict, run_tool) -> tuple[list[dict], str]:
    """(messages, the tool's result): the question, the call, the real result, and the answer read from it.
    `run_tool(name, arguments)` is the registry's call_tool (or a stand-in with the same contract). A found fact is
    answered with the world's value whether or not the results hold it: the stage decides what to do with those
    (`item["truth"] in result` says which)."""
    result = run_tool(item["tool"], item["arguments"])
    if item["tool"] == "python":
        answer = _python_answer(item, result)
    else:
        answer = item["answer"] if item["found"] else NOT_FOUND.format(name=item["name"])
    return [{"role": "user", "content": item["question"]},
            {"role": "assistant", "content": "", "tool_calls": [
                {"type": "function", "function": {"name": item["tool"], "arguments": item["arguments"]}}]},
            {"role": "tool", "content": result},
            {"role": "assistant", "content": answer}], result


def no_tool_conversation(item: dict) -> list[dict]:
    """A python-kind question asked with no tools offered, answered straight (the true answer: what a model that
    cannot call a tool should say; the measurement shows how far a tiny one gets without one)."""
    return [{"role": "user", "content": item["question"]},
            {"role": "assistant", "content": _python_answer(item, item["answer"])}]


def _python_answer(item: dict, result: str) -> str:
    """The answer written from what the program printed (the tool's output is the source, not our arithmetic)."""
    value = result.strip()
    if item["kind"] == "letters":
        n = int(value)
        return f"There is 1 {item['letter']} in '{item['word']}'." if n == 1 else \
            f"There are {n} {item['letter']}'s in '{item['word']}'."
    if item["kind"] == "products":
        return f"The answer is {value}."
    return f"{value} is bigger."
