"""`alignment grpo`: problems from a file, pass@k, recipe errors, and the stage through the real CLI on a micro model
(TRL's GRPOTrainer for a few steps, the measurements before and after, a killed run resuming)."""

from __future__ import annotations

import json

import pytest

from alignment.grpo import GRPOStageConfig, load_problems, pass_at_k
from alignment.recipe import RecipeError
from tests.conftest import kill_at_checkpoint, run_cli


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_problems_are_a_prompt_and_an_answer(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "2 + 3?"}], "answer": 5},
            {"messages": [{"role": "user", "content": "4 + 4?"}, {"role": "assistant", "content": "8, because"}],
             "answer": "8"}]
    problems = load_problems(str(write_jsonl(tmp_path / "p.jsonl", rows)), GRPOStageConfig())
    # a worked solution at the end is dropped (GRPO finds its own); answers are text
    assert problems == [{"prompt": [{"role": "user", "content": "2 + 3?"}], "answer": "5"},
                        {"prompt": [{"role": "user", "content": "4 + 4?"}], "answer": "8"}]
    plain = write_jsonl(tmp_path / "q.jsonl", [{"question": "What is 6 x 7?", "solution": "42"}])
    cfg = GRPOStageConfig(prompt_column="question", answer_column="solution")
    assert load_problems(str(plain), cfg) == [{"prompt": [{"role": "user", "content": "What is 6 x 7?"}],
                                               "answer": "42"}]


def test_bad_problem_files_are_one_line_errors(tmp_path):
    no_answer = write_jsonl(tmp_path / "a.jsonl", [{"messages": [{"role": "user", "content": "2 + 3?"}]}])
    with pytest.raises(RecipeError, match=r"a.jsonl: no column 'answer' \(columns: messages\); set answer_column"):
        load_problems(str(no_answer), GRPOStageConfig())
    empty = write_jsonl(tmp_path / "b.jsonl", [{"messages": [], "answer": 1}])
    with pytest.raises(RecipeError, match="b.jsonl: row 0: expected a problem in 'messages'"):
        load_problems(str(empty), GRPOStageConfig())
    with pytest.raises(RecipeError, match="problems: could not load '.*missing_dir'"):
        load_problems(str(tmp_path / "missing_dir"), GRPOStageConfig())
    with pytest.raises(RecipeError, match="pass_k: must be between 1 and samples_per_problem"):
        GRPOStageConfig(pass_k=20, samples_per_problem=16)
    with pytest.raises(RecipeError, match="rewards: unknown reward 'speed'"):
        GRPOStageConfig(rewards=["speed"])


def test_pass_at_k_is_the_unbiased_estimate():
    assert pass_at_k(16, 0, 8) == 0.0 and pass_at_k(16, 16, 8) == 1.0
    assert pass_at_k(16, 4, 1) == pytest.approx(4 / 16)
    assert pass_at_k(16, 4, 8) == pytest.approx(1 - 495 / 12870)  # C(12, 8) / C(16, 8)
    assert pass_at_k(16, 9, 8) == 1.0  # fewer than 8 wrong: every draw of 8 holds a right one


# --- the stage through the CLI, on a micro model ------------------------------------------------------

from tests.test_sft import micro_base  # noqa: E402,F401  (a fixture: a chat-ready micro Llama with our tokenizer)


@pytest.fixture
def problem_files(tmp_path):
    from alignment.world.conversations import ConversationSizes, build_conversations
    from alignment.world.people import build_world

    sizes = ConversationSizes(fact_questions=20, multi_turn=5, word_problems=20, identity=5, heldout_facts=4,
                              heldout_word_problems=6, heldout_identity=4, test_conversations=8, rl_word_problems=40,
                              notes=0)
    splits = build_conversations(build_world(seed=0, n_entities=60, n_reserved=100),
                                 {"name": "Tinker", "creator": "the Open Alignment team"}, seed=0, sizes=sizes)
    return (write_jsonl(tmp_path / "rl.jsonl", splits["rl_word_problems"][:40]),
            write_jsonl(tmp_path / "heldout.jsonl", splits["eval_word_problems"][:6]))


def grpo_args(model, out, files, *extra):
    return ["grpo", "--config", "recipes/tiny/grpo.yaml", "--model_name_or_path", model, "--output_dir", out,
            "--problems", files[0], "--heldout", files[1], "--skills_dir", "null", "--world", "null",
            "--num_generations", "4", "--per_device_train_batch_size", "8", "--max_completion_length", "12",
            "--measure_problems", "3", "--samples_per_problem", "4", "--pass_k", "2", "--eval_max_new_tokens", "8",
            "--logging_steps", "1", "--precision", "fp32", "--report_to", "[]", *extra]


@pytest.mark.slow
def test_grpo_on_word_problems_writes_a_model_and_its_measurements(micro_base, problem_files, tmp_path):
    """Issue 13, on a micro model that is tool-trained (its tools.json): the held-out problems before and after, and
    letter counting with python (the tool_use stage's held-out python questions) among the skills that must stay."""
    import shutil

    from alignment.tools import TOOLS_FILE
    from alignment.tools.python_sandbox import sandbox_problem

    tool_trained = tmp_path / "tool_trained"
    shutil.copytree(micro_base, tool_trained)
    (tool_trained / TOOLS_FILE).write_text(json.dumps({"tools": ["python"]}))
    out = tmp_path / "grpo"
    proc = run_cli(*grpo_args(tool_trained, out, problem_files, "--max_steps", "2", "--tool_questions", "6"))
    metrics = json.loads((out / "metrics.json").read_text())
    for when in ("kept_before", "kept_after"):
        tool_use = metrics[when]["tool_use"]
        if sandbox_problem():
            assert "not_measured" in tool_use
            continue
        assert tool_use["questions"] == 6 and 0.0 <= tool_use["letters_with_python"] <= 1.0
        assert 0.0 <= tool_use["letters_calls_ask_the_question"] <= 1.0
    assert "letters (python)" in proc.stdout or sandbox_problem()
    assert metrics["global_step"] == 2 and metrics["train_problems"] == 40 and metrics["num_generations"] == 4
    for when in ("before", "after"):
        measured = metrics[when]
        assert measured["problems"] == 6 and measured["sampled_problems"] == 3
        assert len(measured["solved_per_problem"]) == 3 and all(0 <= c <= 4 for c in measured["solved_per_problem"])
        assert 0 <= measured["pass@1"] <= measured["pass@2"] <= 1
    # each reward's mean is logged at every step
    assert [set(h) >= {"rewards/accuracy/mean", "rewards/format_reward/mean", "reward"}
            for h in metrics["training_log"]] == [True, True]
    assert (out / "training_curves.png").is_file() and (out / "success_rates.png").is_file()
    assert "greedy_accuracy" in proc.stdout
    # a normal model dir: it loads, with its chat template and the document EOS it came with
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.eos_token == AutoTokenizer.from_pretrained(micro_base).eos_token
    assert "<|im_start|>assistant" in tokenizer.apply_chat_template([{"role": "user", "content": "hi"}],
                                                                    tokenize=False, add_generation_prompt=True)
    AutoModelForCausalLM.from_pretrained(out)


@pytest.mark.slow
def test_a_killed_grpo_run_resumes_from_its_last_checkpoint(micro_base, problem_files, tmp_path):
    out = tmp_path / "grpo"
    args = grpo_args(micro_base, out, problem_files, "--max_steps", "60", "--save_steps", "2")
    kill_at_checkpoint(args, out, 4)
    done = run_cli(*args)
    assert "resuming from" in done.stdout
    assert json.loads((out / "metrics.json").read_text())["global_step"] == 60


def test_a_tool_trained_input_model_stays_one(tmp_path):
    """The input's tools.json comes along, its search index named by an absolute path (the index stays where it is)."""
    from alignment.rl_policy import copy_tool_offer
    from alignment.tools import offered_tools

    source, out = tmp_path / "tool_use", tmp_path / "grpo"
    (source / "search_index").mkdir(parents=True)
    out.mkdir()
    (source / "tools.json").write_text(json.dumps({"tools": ["python", "search"], "search_index": "search_index",
                                                   "top_k": 2}))
    copy_tool_offer(source, out)
    assert offered_tools(out) == {"tools": ["python", "search"], "search_index": str(source / "search_index"),
                                  "top_k": 2}
    copy_tool_offer(out / "nothing_here", tmp_path)  # an input without tools.json: nothing written
    assert not (tmp_path / "tools.json").exists()


# --- the real-model recipe: Qwen2.5-0.5B-Instruct on GSM8K, on a local stand-in ---------------------------------

def gsm8k_rows(n: int, last: str | None = None) -> list[dict]:
    """Rows in GSM8K's layout: a question, and a worked solution that ends '#### <answer>'."""
    rows = [{"question": f"Mia has {a} pens and buys {b} more. How many pens does she have?",
             "answer": f"Mia has {a} pens.\nShe buys {b}, so {a} + {b} = <<{a}+{b}={a + b}>>{a + b}.\n#### {a + b}"}
            for a, b in ((3 + i % 7, 2 + i % 5) for i in range(n))]
    if last is not None:
        rows[-1]["answer"] = last
    return rows


def test_gsm8k_answers_are_read_from_their_solutions_and_unreadable_ones_named_or_skipped(tmp_path):
    cfg = GRPOStageConfig(prompt_column="question", answer_pattern=r"####\s*(.+)$", rewards=["math_accuracy"],
                          problem_system_message="Put your final answer within \\boxed{}.")
    problems = load_problems(str(write_jsonl(tmp_path / "g.jsonl", gsm8k_rows(3))), cfg)
    assert [p["answer"] for p in problems] == ["5", "7", "9"]
    assert problems[0]["prompt"][0] == {"role": "system", "content": "Put your final answer within \\boxed{}."}
    assert problems[0]["prompt"][1]["content"].startswith("Mia has 3 pens")

    no_mark = write_jsonl(tmp_path / "h.jsonl", gsm8k_rows(3, last="She has nine pens."))
    with pytest.raises(RecipeError, match=r"h.jsonl: row 2: answer_pattern .* does not match the answer"):
        load_problems(str(no_mark), cfg)
    unreadable = write_jsonl(tmp_path / "u.jsonl", gsm8k_rows(3, last="So it is unknown.\n#### ???"))
    with pytest.raises(RecipeError, match=r"u.jsonl: row 2: math-verify cannot read the answer '\?\?\?'"):
        load_problems(str(unreadable), cfg)
    skip = GRPOStageConfig(prompt_column="question", answer_pattern=r"####\s*(.+)$", rewards=["math_accuracy"],
                           unreadable_answers="skip")
    skipped = []
    assert len(load_problems(str(unreadable), skip, skipped=skipped)) == 2
    assert skipped == ["row 2: math-verify cannot read the answer '???'"]
    with pytest.raises(RecipeError, match="answer_pattern: needs a group"):
        GRPOStageConfig(answer_pattern="####.+")
    with pytest.raises(RecipeError, match="unreadable_answers: expected error or skip"):
        GRPOStageConfig(unreadable_answers="drop")


@pytest.mark.slow
def test_qwen_gsm8k_recipe_on_a_qwen2_standin_for_two_steps(tmp_path):
    from tests.test_sft import qwen_standin

    base = qwen_standin(tmp_path / "qwen_standin", eos_token="<|im_end|>")  # an instruct model's EOS ends its turn
    problems = write_jsonl(tmp_path / "gsm8k_train.jsonl", gsm8k_rows(24))
    heldout = write_jsonl(tmp_path / "gsm8k_test.jsonl", gsm8k_rows(6))
    out = tmp_path / "qwen_grpo"
    proc = run_cli("grpo", "--config", "recipes/qwen2.5-0.5b/grpo.yaml", "--model_name_or_path", base,
                   "--output_dir", out, "--problems", problems, "--heldout", heldout, "--max_heldout", "4",
                   "--num_generations", "4", "--per_device_train_batch_size", "8",
                   "--gradient_accumulation_steps", "1", "--max_completion_length", "12", "--measure_problems", "2",
                   "--samples_per_problem", "4", "--pass_k", "2", "--eval_max_new_tokens", "8", "--max_steps", "2",
                   "--gradient_checkpointing", "false", "--precision", "fp32", "--report_to", "[]",
                   "--logging_steps", "1")
    assert "generating with transformers, not vLLM: no CUDA GPU" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["global_step"] == 2 and metrics["train_problems"] == 24
    assert metrics["skipped_problems"] == {"problems": 0, "heldout": 0}
    assert metrics["before"]["problems"] == 4 and metrics["after"]["sampled_problems"] == 2
    assert [set(h) >= {"rewards/math_accuracy/mean", "rewards/boxed_format/mean"}
            for h in metrics["training_log"]] == [True, True]
    recipe = (out / "recipe.yaml").read_text()
    assert "Qwen" not in json.dumps(metrics["base_model"]) and "answer_pattern" in recipe


# --- tools in GRPO: TRL's rollouts run the registry's callables --------------------------------------------------

def test_tools_in_grpo_are_checked_before_anything_loads(tmp_path):
    from alignment.grpo import use_tools

    with pytest.raises(RecipeError, match="tools: unknown calculator"):
        use_tools(GRPOStageConfig(tools=["python", "calculator"]))
    with pytest.raises(RecipeError, match="tools: search needs a search index, and .* has no tools.json"):
        use_tools(GRPOStageConfig(tools=["search"], model_name_or_path=str(tmp_path)))


@pytest.mark.slow
def test_grpo_with_the_python_tool_runs_its_calls_in_the_sandbox(micro_base, tmp_path):
    """Two steps on letter questions with python offered: TRL's multi-turn rollouts get our training variant (the
    inference template is not prefix-preserving), the measurements go through our calling loop, and the saved dir
    has its inference template back."""
    from tests.conftest import skip_without_sandbox

    skip_without_sandbox()
    rows = [{"question": f"How many {c}'s are in '{w}'?", "answer": str(w.count(c)), "kind": "letters"}
            for w, c in (("berry", "r"), ("banana", "a"), ("letter", "t"), ("pepper", "p"))] * 4
    problems = write_jsonl(tmp_path / "letters.jsonl", rows)
    out = tmp_path / "grpo_tools"
    proc = run_cli("grpo", "--config", "recipes/tiny/grpo_tools.yaml", "--model_name_or_path", micro_base,
                   "--output_dir", out, "--problems", problems, "--heldout", problems, "--tools", "[python]",
                   "--skills_dir", "null", "--world", "null", "--num_generations", "4",
                   "--per_device_train_batch_size", "8", "--max_completion_length", "16", "--measure_problems", "2",
                   "--samples_per_problem", "2", "--pass_k", "2", "--eval_max_new_tokens", "8", "--max_steps", "2",
                   "--precision", "fp32", "--report_to", "[]", "--logging_steps", "1")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["global_step"] == 2 and "greedy_call_rate" in metrics["before"]
    assert [set(h) >= {"rewards/first_number/mean", "rewards/tool_success/mean"}
            for h in metrics["training_log"]] == [True, True]
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(out).chat_template == AutoTokenizer.from_pretrained(micro_base).chat_template
    assert "greedy_accuracy" in proc.stdout


def test_rollouts_stop_at_the_end_of_the_turn_and_tool_errors_are_the_registrys(micro_base, tmp_path):
    """TRL stops at the tokenizer's EOS: ours becomes <|im_end|> (its EOS is the document's), an instruct model's
    <|im_end|> EOS stays. A rollout's call with wrong arguments gets our one-line error, which tool_success counts."""
    from transformers import AutoTokenizer

    from alignment.grpo import rollout_tool
    from alignment.rl_policy import turn_end_token
    from alignment.rewards import tool_success
    from tests.test_sft import qwen_standin

    ours = AutoTokenizer.from_pretrained(micro_base)
    assert ours.eos_token == "<|endoftext|>" and turn_end_token(ours, [ours.eos_token_id]) == "<|im_end|>"
    instruct = AutoTokenizer.from_pretrained(qwen_standin(tmp_path / "qwen", eos_token="<|im_end|>"))
    assert turn_end_token(instruct, [instruct.eos_token_id]) == "<|im_end|>"

    python = rollout_tool("python", ["python"])
    from transformers.utils import get_json_schema

    from alignment.tools import TOOLS

    assert python.__name__ == "python" and get_json_schema(python) == get_json_schema(TOOLS["python"])  # same block
    result = python(query="2 + 2")  # a search argument to python
    assert result.startswith("Error:")
    turns = [{"role": "assistant", "content": ""}, {"role": "tool", "content": result}]
    trl_error = [{"role": "assistant", "content": ""}, {"role": "tool", "content": "{'error': 'Tool calc not found.'}"}]
    assert tool_success([turns, trl_error]) == [0.0, 0.0]
