"""`alignment eval` (issue 15): every model on every held-out suite, one table; a cell measured before with the same
suite, model files and code is reused, never measured again.

Hermetic: a micro Llama (hidden 32) from its config with a tokenizer our tokenizer stage trains in-process, a world of
10 people, a few held-out identity questions in a conversations dir. The tiny pipeline's own eval is checked in
tests/test_tiny_pipeline.py.
"""

from __future__ import annotations

import json

import pytest

from alignment.eval import EvalConfig, run_eval
from alignment.evals.measurements import (code_sha256, few_shot_key, find, headline, model_sha256, record,
                                          set_key, stderr, suite_key)
from alignment.recipe import RecipeError

IDENTITY = {"name": "Tinker", "creator": "the Open Alignment team"}
WORLD = {"seed": 0, "n_entities": 10, "n_reserved": 10}


def test_a_suite_key_changes_with_its_items_and_with_how_they_are_asked():
    items = [{"messages": [{"role": "user", "content": "Who are you?"}], "asks": "name"}]
    key = set_key("eval_identity", items, 160, identity=IDENTITY)
    assert key == set_key("eval_identity", json.loads(json.dumps(items)), 160, identity=IDENTITY)  # read back: same
    assert key[0] == "identity"
    assert key != set_key("eval_identity", items + items, 160, identity=IDENTITY)
    assert key != set_key("eval_identity", items, 96, identity=IDENTITY)
    assert key != set_key("eval_identity", items, 160, identity={**IDENTITY, "name": "Tock"})
    assert key != set_key("eval_identity", items, 160, identity=IDENTITY, tools={"tools": ["python"]})
    assert few_shot_key(WORLD, 0, 0) != few_shot_key(WORLD, 0, 1)
    with pytest.raises(KeyError, match="unknown suite"):
        suite_key("vibes", [])


def test_a_model_fingerprint_follows_its_files_and_not_its_logs(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    assert model_sha256(model) is None  # no weights: nothing to reuse
    assert model_sha256("HuggingFaceTB/SmolLM2-135M") is None  # a hub id
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "config.json").write_text("{}")
    first = model_sha256(model)
    (model / "run.log").write_text("a log line")
    (model / "metrics.json").write_text("{}")
    assert model_sha256(model) == first
    (model / "model.safetensors").write_bytes(b"weights, trained on")
    assert model_sha256(model) != first
    assert code_sha256() == code_sha256() and len(code_sha256()) == 64


def test_headlines_and_standard_errors_of_each_result_form():
    assert headline("identity", {"accuracy": 0.9, "questions": 100}) == (0.9, 100)
    assert headline("few_shot_facts", {"multiple_choice_accuracy": 0.6, "questions": 300}) == (0.6, 300)
    table = {"questions": 50, "correct": {"share": 0.1}, "incorrect": {"share": 0.2}, "not_attempted": {"share": 0.7}}
    assert headline("refusal_reserved", table) == (0.7, 50)  # declined
    assert headline("refusal_heldout", table) == (0.2, 50)  # answered wrong
    assert headline("search_found", table) == (0.1, 50)
    assert stderr(0.5, 100) == 0.05 and stderr(1.0, 10) == 0.0 and stderr(0.5, 0) is None


def test_a_cell_is_found_only_with_the_same_suite_key_model_and_code():
    entry = {"suite": "identity", "key": "k", "model_sha256": "m", "code_sha256": "c", "value": 0.9}
    assert find([entry], "identity", "k", "m", "c") is entry
    assert find([entry], "identity", "k", "m", "other code") is None
    assert find([entry], "identity", "k", "other model", "c") is None
    assert find([entry], "identity", "other key", "m", "c") is None
    assert find([entry], "identity", "k", None, "c") is None  # a hub id: never reused
    later = {**entry, "value": 0.8}
    assert find([entry, later], "identity", "k", "m", "c") is later


def test_a_bad_recipe_is_a_one_line_error():
    with pytest.raises(RecipeError, match="models: expected"):
        EvalConfig(models={})
    with pytest.raises(RecipeError, match="suites: unknown suite 'vibes'"):
        EvalConfig(models={"a": "x"}, suites=["vibes"], world=WORLD)
    with pytest.raises(RecipeError, match="conversations_dir"):
        EvalConfig(models={"a": "x"}, suites=["identity"], world=WORLD)


@pytest.fixture(scope="module")
def micro_models(tmp_path_factory):
    """(folder, a micro assistant dir, a micro base model dir, the held-out conversations dir)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from alignment.tokenizer import TokenizerConfig, train_tokenizer

    folder = tmp_path_factory.mktemp("eval")
    data = folder / "texts.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in
                            ["Who are you? I am Tinker, made by the Open Alignment team.",
                             "Where was Ada born? She was born in Dalrun in 1950."] * 5))
    train_tokenizer(TokenizerConfig(dataset_path=str(data), vocab_size=320, heldout_fraction=0,
                                    output_dir=str(folder / "tokenizer")))
    tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer")
    eos = tokenizer.eos_token_id
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    dirs = {}
    for name, seed in (("assistant", 0), ("base", 1)):
        torch.manual_seed(seed)
        LlamaForCausalLM(config).save_pretrained(folder / name)
        tokenizer.save_pretrained(folder / name)
        dirs[name] = folder / name
    (dirs["base"] / "metrics.json").write_text(json.dumps({"stage": "pretrain"}))
    conversations = folder / "conversations"
    conversations.mkdir()
    questions = ["Who are you?", "What is your name?", "Who made you?"]
    (conversations / "eval_identity.jsonl").write_text("".join(
        json.dumps({"messages": [{"role": "user", "content": q}], "asks": "name"}) + "\n" for q in questions))
    return folder, dirs["assistant"], dirs["base"], conversations


def _config(folder, assistant, base, conversations, **changes) -> EvalConfig:
    return EvalConfig(**{"output_dir": str(folder / "out"), "models": {"base": str(base), "sft": str(assistant)},
                         "suites": ["few_shot_facts", "identity", "refusal_reserved", "letters"], "world": WORLD,
                         "identity": IDENTITY, "conversations_dir": str(conversations), "few_shot_questions": 12,
                         "chat_max_new_tokens": 8, "refusal_max_new_tokens": 8, "tool_max_new_tokens": 8,
                         "python_heldout": 6, **changes})


def test_eval_measures_each_cell_once_and_reuses_what_a_stage_measured(micro_models):
    """The first run measures every cell (the base model on the few-shot probe only); the second measures none; a
    stage's record of a cell is taken as it is, and one made by other code is not."""
    folder, assistant, base, conversations = micro_models
    cfg = _config(folder, assistant, base, conversations)
    first = run_eval(cfg)
    assert list(first["table"]["base"]) == ["few_shot_facts"]
    assert list(first["table"]["sft"]) == ["few_shot_facts", "identity", "refusal_reserved", "letters"]
    assert first["cells"] == {"total": 5, "reused_from_stages": 0, "from_earlier_runs": 0, "measured": 5}
    for row in first["table"].values():
        for cell in row.values():
            assert 0 <= cell["value"] <= 1 and cell["stderr"] is not None and cell["n"] > 0
    assert first["table"]["sft"]["identity"]["n"] == 3
    assert first["results"]["sft"]["refusal_reserved"]["questions"] == first["table"]["sft"]["refusal_reserved"]["n"]
    markdown = (folder / "out" / "eval.md").read_text()
    assert "| model | few-shot facts ↑ | identity ↑ | (a) unknown declined ↑ | letters ↑ |" in markdown
    assert "| base | " in markdown and " — |" in markdown  # a base model has no assistant cells

    second = run_eval(cfg)
    assert second["cells"]["measured"] == 0 and second["cells"]["from_earlier_runs"] == 5
    assert second["table"] == {m: {s: {**c, "source": "this stage, an earlier run"} for s, c in row.items()}
                               for m, row in first["table"].items()}

    # a stage that measured identity on these very files, with this code: its number is the cell
    items = [json.loads(line) for line in (conversations / "eval_identity.jsonl").read_text().splitlines()]
    stage_record = record(*set_key("eval_identity", items, 8, identity=IDENTITY), assistant,
                          {"accuracy": 0.125, "questions": 3}, "identity_accuracy_no_system")
    from alignment.world.people import build_world
    from alignment.world.refusal_questions import build_refusal_questions

    reserved = build_refusal_questions(build_world(**WORLD))["eval_reserved"]
    stale = {**record(*set_key("eval_reserved", reserved, 8), assistant, {"accuracy": 0.5, "questions": 3}, "x"),
             "code_sha256": "0" * 64}  # the very cell, measured by other code: not reused
    assert find([{**stale, "code_sha256": code_sha256()}], "refusal_reserved", stale["key"], model_sha256(assistant),
                code_sha256())  # with this code it would have been
    (assistant / "metrics.json").write_text(json.dumps({"stage": "sft", "measurements": [stage_record, stale]}))
    third = run_eval(_config(folder, assistant, base, conversations, output_dir=str(folder / "fresh")))
    cell = third["table"]["sft"]["identity"]
    assert cell["value"] == 0.125 and cell["source"].startswith(f"reused: {assistant / 'metrics.json'}")
    assert third["table"]["sft"]["refusal_reserved"]["source"] == "measured"
    assert third["cells"] == {"total": 5, "reused_from_stages": 1, "from_earlier_runs": 0, "measured": 4}


def test_a_changed_model_is_measured_again(micro_models, tmp_path):
    import shutil

    import torch
    from transformers import AutoModelForCausalLM

    folder, assistant, base, conversations = micro_models
    copy = tmp_path / "sft"
    shutil.copytree(assistant, copy)
    (copy / "metrics.json").unlink(missing_ok=True)
    cfg = _config(folder, copy, base, conversations, output_dir=str(tmp_path / "out"), models={"sft": str(copy)},
                  suites=["identity"])
    assert run_eval(cfg)["cells"]["measured"] == 1
    model = AutoModelForCausalLM.from_pretrained(copy)
    with torch.no_grad():
        model.lm_head.weight.mul_(2.0)
    model.save_pretrained(copy)
    again = run_eval(cfg)
    assert again["cells"]["measured"] == 1 and again["cells"]["from_earlier_runs"] == 0


def test_the_harness_runs_a_local_task_on_a_model_dir_offline(micro_models, tmp_path):
    """EleutherAI's lm-evaluation-harness, as `--lm_eval_tasks` runs it: a local task YAML over a local JSON file,
    a multiple-choice task by log-likelihood, on a model dir: a column with the harness's accuracy and its stderr."""
    folder, assistant, base, conversations = micro_models
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    rows = [{"question": f"Ada lives in {town}. Where does Ada live?", "choices": [town, "Dalrun", "Ostmere"],
             "answer": 0} for town in ("Pennisk", "Yarrowend", "Cindervale", "Brackwater", "Ellbury", "Fennick")]
    (tasks / "towns.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tasks / "towns.yaml").write_text(
        "task: tiny_towns\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {tasks / 'towns.jsonl'}\n"
        "test_split: test\noutput_type: multiple_choice\ndoc_to_text: '{{question}}'\n"
        "doc_to_choice: '{{choices}}'\ndoc_to_target: '{{answer}}'\nmetric_list:\n  - metric: acc\n")
    cfg = _config(folder, assistant, base, conversations, output_dir=str(tmp_path / "out"), suites=[],
                  models={"base": str(base)}, lm_eval_tasks=["tiny_towns"], lm_eval_include_path=str(tasks))
    first = run_eval(cfg)
    cell = first["table"]["base"]["lm_eval:tiny_towns"]
    assert cell["n"] == 6 and 0 <= cell["value"] <= 1 and cell["stderr"] is not None and cell["source"] == "measured"
    assert first["results"]["base"]["lm_eval:tiny_towns"]["headline"] == "acc"
    assert "| model | tiny_towns ↑ |" in (tmp_path / "out" / "eval.md").read_text()
    assert run_eval(cfg)["cells"]["from_earlier_runs"] == 1  # measured once
    with pytest.raises(RecipeError, match="lm_eval_tasks: no task 'tiny_town'"):
        run_eval(_config(folder, assistant, base, conversations, output_dir=str(tmp_path / "bad"), suites=[],
                         models={"base": str(base)}, lm_eval_tasks=["tiny_town"], lm_eval_include_path=str(tasks)))


def test_the_gold_preference_suite_is_a_mean_score_with_its_standard_error(micro_models, tmp_path):
    """The labeller's gold score of a note about each covered person: a mean in 0..1, its standard error from the
    scores' spread (not a share's), printed as a score."""
    folder, assistant, base, conversations = micro_models
    cfg = _config(folder, assistant, base, conversations, output_dir=str(tmp_path / "out"), suites=["gold_preference"],
                  note_max_new_tokens=12)
    result = run_eval(cfg)
    cell = result["table"]["sft"]["gold_preference"]
    assert cell["n"] == WORLD["n_entities"] and 0 <= cell["value"] <= 1 and cell["stderr"] is not None
    assert list(result["table"]["base"]) == []  # a base model writes no notes
    assert f"{cell['value']:.3f} ± " in (tmp_path / "out" / "eval.md").read_text()
    assert len(result["results"]["sft"]["gold_preference"]["replies"]) == WORLD["n_entities"]
    again = run_eval(cfg)  # from its earlier run, the full result (the replies) carried over
    assert again["results"]["sft"]["gold_preference"] == result["results"]["sft"]["gold_preference"]

    # the arena battles with the notes eval wrote: the same prompts, budget, model files and code
    from alignment.arena import ArenaConfig, run_arena

    arena = run_arena(ArenaConfig(output_dir=str(tmp_path / "arena"), models={"a": str(assistant), "b": str(assistant)},
                                  world=WORLD, max_new_tokens=12, bootstrap_rounds=20,
                                  replies_from=str(tmp_path / "out")))
    assert arena["replies_reused_from_eval"] == ["a", "b"] and arena["battles"] == WORLD["n_entities"]
    fresh = run_arena(ArenaConfig(output_dir=str(tmp_path / "arena2"), models={"a": str(assistant), "b": str(base)},
                                  world=WORLD, max_new_tokens=16, bootstrap_rounds=20,
                                  replies_from=str(tmp_path / "out")))
    assert fresh["replies_reused_from_eval"] == []  # another budget: written again
