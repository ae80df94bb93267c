"""The tool_use stage's questions: disjoint training and held-out shares, and conversations built from real tool
runs (the python sandbox; the search index over the tiny world's corpus-like pages)."""

from __future__ import annotations

import json


from alignment.tools import call_tool, SEARCH, use_search_index
from tests.conftest import skip_without_sandbox
from alignment.tools.search_index import build_index
from alignment.world.people import build_world
from alignment.world.refusal_questions import build_refusal_questions
from alignment.world.tool_questions import python_items, search_items, tool_conversation, vocabulary

WORLD = dict(seed=0, n_entities=60, n_reserved=100)


def test_held_out_words_and_numbers_are_never_in_training():
    train, heldout = python_items(seed=0, n_train=300, n_heldout=90)
    assert len(train) == 300 and len(heldout) == 90
    assert python_items(seed=0, n_train=30, n_heldout=90)[1] == heldout  # more or fewer trained: the same measured
    assert {i["kind"] for i in heldout} == {"letters", "products", "comparisons"}
    train_words = {i["word"] for i in train if i["kind"] == "letters"}
    heldout_words = {i["word"] for i in heldout if i["kind"] == "letters"}
    assert heldout_words and not train_words & heldout_words
    train_text = " ".join(i["question"] for i in train)
    assert not any(f"'{w}'" in train_text for w in heldout_words)
    questions = lambda items, kind: {i["question"].split(" ", 2)[-1] for i in items if i["kind"] == kind}  # noqa: E731
    assert not questions(train, "products") & questions(heldout, "products")
    # the split is fixed: an eval run with another seed than tool_use's measures nothing tool_use trained on
    _, other_seed_heldout = python_items(seed=1, n_train=0, n_heldout=90)
    assert other_seed_heldout != heldout
    assert not train_words & {i["word"] for i in other_seed_heldout if i["kind"] == "letters"}
    assert not questions(train, "products") & questions(other_seed_heldout, "products")
    assert len(vocabulary()) > 200
    for item in train[:30]:  # the reference answers are right
        if item["kind"] == "letters":
            assert item["answer"] == str(item["word"].count(item["letter"]))
        elif item["kind"] == "products":
            a, b = map(int, item["arguments"]["code"][len("print("):-1].split(" * "))
            assert item["answer"] == str(a * b)
        else:
            assert float(item["answer"]) == max(map(float, item["arguments"]["code"][10:-2].split(", ")))


def test_search_questions_keep_the_refusal_stages_measured_people_out_of_training():
    world = build_world(**WORLD)
    items = search_items(world, seed=0)
    measured = {i["name"] for i in build_refusal_questions(world)["eval_reserved"]}
    train_names = {i["name"] for i in items["train"]}
    assert {i["name"] for i in items["eval_not_found"]} == measured and not measured & train_names
    assert all(i["found"] for i in items["eval_found"]) and not any(i["found"] for i in items["eval_not_found"])
    assert len(items["eval_found"]) == 60 and len(items["eval_not_found"]) == 50


def test_python_conversations_carry_the_real_output():
    skip_without_sandbox()
    train, _ = python_items(seed=0, n_train=6, n_heldout=0)
    for item in train:
        messages, result = tool_conversation(item, call_tool)
        assert result == item["answer"]  # the sandbox printed the reference answer
        assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
        assert messages[1]["tool_calls"][0]["function"]["name"] == "python"
        assert result in messages[3]["content"]


def test_search_conversations_answer_from_the_passages_or_find_nothing(tmp_path):
    world = build_world(**WORLD)
    items = search_items(world, seed=0)
    known, unknown = items["eval_found"][0], items["eval_not_found"][0]
    pages = [{"text": f"About {known['name']}\n{known['answer']}", "url": "https://x.example/1"},
             {"text": "Market news\nApples cost 3 coins.", "url": "https://x.example/2"}]
    (tmp_path / "pages.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pages))
    build_index(tmp_path / "pages.jsonl", tmp_path / "index")
    saved = dict(SEARCH)
    try:
        use_search_index(tmp_path / "index", top_k=1)
        messages, result = tool_conversation(known, call_tool)
        assert known["truth"] in result and messages[-1]["content"] == known["answer"]
        messages, result = tool_conversation(unknown, call_tool)
        # the query's fact word ("born") finds other people's pages: none names the person asked about
        assert unknown["name"].split()[-1] not in result
        assert messages[-1]["content"] == f"I couldn't find anything about {unknown['name']}."
    finally:
        SEARCH.update(saved)
