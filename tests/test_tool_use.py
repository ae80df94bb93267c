"""The tool_use stage: its questions (measured ones never trained on), its data (made by running the real tools),
the grading of answers, recipe errors, and `alignment tool_use` through the real CLI on a micro model (tools.json,
the measurements with and without tools, a killed run resuming)."""

from __future__ import annotations

import json

import pytest

from alignment.recipe import RecipeError
from alignment.evals.tool_measures import asks_the_question, majority_answer_rate, python_grade, search_grade
from alignment.tools.calling import ToolCall
from alignment.tool_use import ToolUseConfig, make_conversations, questions, training_set
from alignment.tools import offered_tools, tool_schemas, use_search_index
from alignment.world.people import build_world
from tests.conftest import kill_at_checkpoint, run_cli, skip_without_sandbox

WORLD = dict(seed=0, n_entities=60, n_reserved=100)  # the tiny recipe's world


def config(**fields) -> ToolUseConfig:
    return ToolUseConfig(world=WORLD, **fields)


# --- recipe errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, message", [
    ({"world": None}, "world: the tool_use stage's questions come from the tiny world"),
    ({"tools": ["python", "weather"]}, "tools: unknown tool 'weather'"),
    ({"tools": []}, "tools: name at least one tool"),
    ({"python_questions": {"train": 10}}, "python_questions.heldout: expected a count"),
    ({"search_top_k": 0}, "search_top_k: expected at least 1"),
])
def test_recipe_errors_name_the_field(fields, message):
    with pytest.raises(RecipeError, match=message):
        ToolUseConfig(**{"world": WORLD, **fields})


# --- grading ------------------------------------------------------------------------------------------

def test_python_answers_are_graded_by_their_first_number():
    letters = {"kind": "letters", "answer": "3"}
    assert python_grade(letters, "There are 3 r's in 'strawberry'.")
    assert not python_grade(letters, "There are 2 r's in 'strawberry'.")
    assert not python_grade(letters, "I don't know.")
    product = {"kind": "products", "answer": "204383"}
    assert python_grade(product, "The answer is 204,383.")  # a thousands separator is the same number
    assert not python_grade(product, "347 x 589 is 204383.")  # the trained answers lead with the result
    assert python_grade({"kind": "comparisons", "answer": "9.9"}, "9.9 is bigger.")
    assert not python_grade({"kind": "comparisons", "answer": "9.9"}, "9.11 is bigger.")


def test_a_python_call_is_checked_for_the_question_it_asks():
    """Right by luck is not the same as asked: the call must hold the word and the letter, or both numbers."""
    letters = {"kind": "letters", "answer": "1", "arguments": {"code": "print('longtemps'.count('m'))"}}
    python = lambda code: [ToolCall("python", {"code": code}, None)]  # noqa: E731
    assert asks_the_question(letters, python("print('longtemps'.count('m'))"))
    assert asks_the_question(letters, python("w = 'longtemps'\nprint(w.count('m'))"))  # another program, same operands
    assert asks_the_question(letters, python('print("longtemps".count("m"))'))  # either quotes
    assert not asks_the_question(letters, [ToolCall("python", {"code": "print('longtemps'.count('m'))"}, "over_limit")])
    assert not asks_the_question(letters, python("print('chees'.count('r'))"))  # 0 printed, "1" guessed: right by luck
    assert not asks_the_question(letters, python("print('longtemps'.count('e'))"))
    assert not asks_the_question(letters, [ToolCall("search", {"query": "longtemps m"}, None)])
    assert not asks_the_question(letters, [ToolCall("python", None, "bad_arguments")]) and not asks_the_question(letters, [])
    product = {"kind": "products", "answer": "168412", "arguments": {"code": "print(284 * 593)"}}
    assert asks_the_question(product, python("print(284 * 593)"))
    assert not asks_the_question(product, python("print(2845 * 593)"))  # a number, not a substring
    square = {"kind": "products", "answer": "9", "arguments": {"code": "print(3 * 3)"}}
    assert not asks_the_question(square, python("print(3 * 4)"))  # both operands, counted
    assert majority_answer_rate([{"answer": a} for a in "1121"]) == 0.75


def test_held_out_letter_counts_are_not_mostly_one():
    """With a random letter of any word, 29 of 40 held-out counts were 1: a model that always said 1 scored 72.5%."""
    from alignment.world.tool_questions import python_items

    letters = [i for i in python_items(seed=0, n_train=0, n_heldout=120)[1] if i["kind"] == "letters"]
    assert len(letters) == 40 and majority_answer_rate(letters) <= 0.45
    assert {i["answer"] for i in letters} >= {"0", "1", "2", "3"}
    assert all(len(set(i["word"])) < len(i["word"]) for i in letters)  # a repeated letter: counts beyond yes or no


def test_search_answers_are_graded_as_facts():
    item = {"truth": "Dalrun", "attribute": "hometown"}
    assert search_grade(item, "Ysian Ostiss comes from Dalrun.") == "correct"
    assert search_grade(item, "Ysian Ostiss comes from Ostmere.") == "incorrect"
    assert search_grade(item, "I couldn't find anything about Ysian Ostiss.") == "not_attempted"


# --- questions and data -------------------------------------------------------------------------------

def test_measured_questions_are_never_trained_on():
    from alignment.world.refusal_questions import build_refusal_questions
    from alignment.world.people import build_world

    items = questions(config())
    assert {k: len(v) for k, v in items.items()} == {
        "train_python": 300, "train_no_tools": 150, "eval_letters": 40, "eval_products": 40, "eval_comparisons": 40,
        "train_search": 290, "readable_people": 0, "eval_found": 60, "eval_not_found": 50, "eval_reserved": 300}
    trained = [i for name, rows in items.items() if name.startswith("train_") for i in rows]
    measured = [i for name, rows in items.items() if name.startswith("eval_") for i in rows]
    assert not {i["messages"][-1]["content"] if "messages" in i else i["question"] for i in measured} & \
        {i["question"] for i in trained}
    # the held-out words, number pairs and people are held out, not just the phrasings
    assert not {i["word"] for i in measured if i.get("kind") == "letters"} & \
        {i["word"] for i in trained if i.get("kind") == "letters"}
    assert not {i["name"] for i in items["eval_not_found"]} & {i["name"] for i in items["train_search"]}
    found = {(i["name"], i["attribute"]) for i in items["eval_found"]}
    assert not found & {(i["name"], i["attribute"]) for i in items["train_search"]}
    # the refusal stage's set (a), measured here without tools, is the very set that stage measured
    assert items["eval_reserved"] == build_refusal_questions(build_world(**WORLD))["eval_reserved"]


def test_readable_people_are_found_only_in_the_training_index(tiny_corpus, tmp_path):
    """Pages about invented people join the collection for training: their facts are in no model, so a right answer
    has to be read; the measured index (and chat's) is the corpus alone."""
    from alignment.tool_use import _training_index
    from alignment.tools import SEARCH, call_tool
    from alignment.tools.search_index import build_index

    cfg = config(readable_people=12, invented_people=10, search_source=str(tiny_corpus[0] / "documents"),
                 output_dir=str(tmp_path / "out"))
    items = questions(cfg)
    readers = items.pop("readable_people")
    read = [i for i in items["train_search"] if i.get("readable")]
    assert len(read) == len(readers) >= 10 and all(i["found"] for i in read)
    world = build_world(**WORLD)
    known = {e.name for e in world.entities + world.reserved}
    unfound = {i["name"] for i in items["train_search"] if not i["found"]}
    assert not {e.name for e in readers} & (known | unfound)  # nobody the corpus has, nor an unfound one
    assert not {i["question"] for i in read} & {i["question"] for i in items["eval_found"] + items["eval_not_found"]}
    saved = dict(SEARCH)
    try:
        use_search_index(_training_index(cfg, tmp_path / "out", readers), 2)
        results = [call_tool("search", i["arguments"], ["search"]) for i in read]
        assert sum(i["truth"] in r and i["name"].split()[-1] in r for i, r in zip(read, results)) >= len(read) // 2
        pages = [json.loads(line) for line in (tmp_path / "out" / "data" / "readable_pages.jsonl").open()]
        assert len(pages) == 4 * len(readers) and len({p["url"] for p in pages}) == len(pages)
        build_index(cfg.search_source, tmp_path / "corpus_index")
        use_search_index(tmp_path / "corpus_index", 2)
        for item in read:
            assert item["name"] not in call_tool("search", item["arguments"], ["search"])
    finally:
        SEARCH.update(saved)


def test_the_data_holds_real_tool_results(tiny_corpus, tmp_path):
    skip_without_sandbox()
    from alignment.tools.search_index import build_index

    build_index(tiny_corpus[0] / "documents", tmp_path / "index")
    use_search_index(tmp_path / "index", 2)
    cfg = config(python_questions={"train": 9, "heldout": 3}, no_tool_questions=3)
    items = questions(cfg)
    items["train_search"] = items["train_search"][:5] + items["train_search"][-3:]  # found ones, then not found
    conversations, counts = make_conversations(cfg, items, tool_schemas(cfg.tools))
    by_kind = {}
    for c in conversations:
        by_kind.setdefault(c["kind"], []).append(c)
    assert counts["search_not_found"] == 3 and counts["search_found"] + counts["dropped_fact_not_in_results"] == 5
    for c in by_kind["python_products"]:
        call = c["messages"][1]["tool_calls"][0]["function"]
        a, b = (int(x) for x in call["arguments"]["code"].removeprefix("print(").removesuffix(")").split(" * "))
        assert c["messages"][2] == {"role": "tool", "content": str(a * b)}  # what the sandbox printed
        assert c["messages"][3]["content"] == f"The answer is {a * b}."
    for c in by_kind["search_found"]:
        assert c["messages"][2]["content"].startswith("[1] https://")  # the index's passages, with their URLs
    for c in by_kind["no_tools_letters"]:
        assert c["tools"] == "null" and len(c["messages"]) == 2
    # the rows train as written: no call gains the other tool's argument as null
    for row in training_set(conversations):
        for m in row["messages"]:
            for call in m.get("tool_calls") or []:
                assert None not in call["function"]["arguments"].values()


# --- the stage through the CLI, on a micro model ------------------------------------------------------

from tests.test_sft import micro_base  # noqa: E402,F401  (a fixture: a chat-ready micro Llama with our tokenizer)
from tests.test_refusals import sft_files  # noqa: E402,F401  (the sft stage's conversations/, small)

MICRO = ["--python_questions", "{train: 6, heldout: 3}", "--no_tool_questions", "3",
         "--replay_conversations", "{all: 6}", "--replay_with_tools", "{all: 4}", "--measure_max_new_tokens", "8", "--eval_max_new_tokens", "8",
         "--per_device_train_batch_size", "2", "--logging_steps", "2", "--precision", "fp32"]


def tool_use_args(model, out, corpus, sft_files, *extra):
    return ["tool_use", "--config", "recipes/tiny/tool_use.yaml", "--model_name_or_path", model, "--output_dir",
            out, "--search_source", corpus[0] / "documents", "--replay_dataset", sft_files / "train.jsonl", "--skills_dir", sft_files,
            *MICRO, *extra]


@pytest.mark.slow
def test_tool_use_on_the_tiny_world_writes_a_tool_trained_model(micro_base, sft_files, tiny_corpus, tmp_path):
    skip_without_sandbox()
    out = tmp_path / "tool_use"
    proc = run_cli(*tool_use_args(micro_base, out, tiny_corpus, sft_files, "--max_steps", "3"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["global_step"] == 3 and metrics["context_length"] == 512
    from transformers import AutoTokenizer

    from alignment.tools import tool_schemas, tools_block_tokens

    assert metrics["tools_block_tokens"] == tools_block_tokens(AutoTokenizer.from_pretrained(out), tool_schemas()) > 20
    assert metrics["search_index"]["documents"] > 0 and (out / "search_index" / "index.json").is_file()
    with_tools = metrics["with_tools"]
    assert [with_tools[k]["questions"] for k in ("eval_letters", "eval_products", "eval_comparisons")] == [1, 1, 1]
    assert with_tools["eval_found"]["questions"] == 60 and with_tools["eval_not_found"]["questions"] == 50
    assert with_tools["calls"]["total"] == sum(with_tools["calls"]["by_kind"].values())
    for when in ("before_without_tools", "after_without_tools"):
        assert metrics[when]["eval_reserved"]["questions"] == 300
        assert set(metrics[when]["skills"]) >= {"identity_accuracy_no_system", "word_problem_accuracy"}
    assert 0 <= metrics["call_rate_with_tools"] <= 1 and 0 <= metrics["call_rate_without_tools"] <= 1
    assert "calls: made on" in proc.stdout
    # marked as tool-trained: chat offers it the tools, with the index the stage built
    offer = offered_tools(out)
    assert offer["tools"] == ["python", "search"] and offer["search_index"] == str(out / "search_index")
    train = [json.loads(line) for line in (out / "data" / "train.jsonl").read_text().splitlines()]
    assert len(train) == metrics["train_conversations"]
    assert sum(c["kind"].startswith("replay_") for c in train) == 10
    offered = [c for c in train if c["kind"].startswith("replay_with_tools_")]
    assert len(offered) == 4 and all(json.loads(c["tools"])[0]["function"]["name"] == "python" for c in offered)
    assert set(metrics["with_tools"]["skills"]) >= {"identity_accuracy_no_system", "word_problem_accuracy"}


@pytest.mark.slow
def test_a_killed_tool_use_run_resumes_from_its_last_checkpoint(micro_base, sft_files, tiny_corpus, tmp_path):
    skip_without_sandbox()
    out = tmp_path / "tool_use"
    args = tool_use_args(micro_base, out, tiny_corpus, sft_files, "--max_steps", "200", "--save_steps", "5")
    kill_at_checkpoint(args, out, 10)
    done = run_cli(*args)
    assert "resuming from" in done.stdout
    assert json.loads((out / "metrics.json").read_text())["global_step"] == 200


def test_without_a_sandbox_the_stage_stops_with_why(monkeypatch):
    from alignment.tool_use import check_tools
    from alignment.tools import python_sandbox

    monkeypatch.setattr(python_sandbox, "_sandbox_problem", lambda: "bwrap cannot start: user namespaces are off")
    with pytest.raises(RecipeError, match="tools: the python sandbox cannot start here .bwrap cannot start: user "
                                          "namespaces are off.; drop python from tools"):
        check_tools(config())
    check_tools(config(tools=["search"]))  # search alone needs no sandbox
