"""`alignment ppo`: the degeneration numbers, the paired gain, recipe errors, and the stage through the real CLI on
a micro policy and a micro reward model (TRL's PPOTrainer for a few steps, the audits, the guard's stop)."""

from __future__ import annotations

import json

import pytest

from alignment.ppo import PPOStageConfig, distinct_2, paired_gain, repetition
from alignment.recipe import RecipeError
from tests.conftest import run_cli
from tests.test_reward import MICRO as REWARD_MICRO
from tests.test_sft import micro_base  # noqa: F401  (a fixture: a chat-ready micro Llama with our tokenizer)


def test_repetition_and_distinct_pairs_tell_a_collapse():
    varied = ["Velmora Quist is a potter.", "Ada Lind plays the cello."]
    assert repetition(varied) == 0.0 and distinct_2(varied) == 1.0
    babble = ["the the the the the", "the the the the the"]
    assert repetition(babble) == 0.75  # 3 of its 4 word pairs repeat the first
    assert distinct_2(babble) == 0.125  # 1 distinct pair of 8
    assert distinct_2(["Velmora Quist is a potter."] * 4) == 0.25  # every reply the same: a collapse


def test_the_gold_gain_is_paired_by_prompt():
    gain = paired_gain([0.5, 0.6, 0.7, 0.4], [0.6, 0.7, 0.8, 0.6])
    assert gain["mean"] == pytest.approx(0.125) and gain["stderr"] == pytest.approx(0.025)
    assert gain["standard_errors"] == 5.0
    # two replies a prompt: averaged per prompt first, then paired
    assert paired_gain([0.4, 0.6, 0.6, 0.6], [0.6, 0.6, 0.8, 0.6], per_prompt=2)["mean"] == pytest.approx(0.1)


@pytest.mark.parametrize("fields, message", [
    ({"world": None}, "world: the ppo stage's prompts and audits come from the tiny world"),
    ({"audit_every": 0}, "audit_every: the guard audits every N > 0 steps, got 0"),
    ({"labeller": {"lapse": 0.1, "mood": 1}}, "labeller: unknown field mood"),
])
def test_recipe_mistakes_are_one_line_errors(fields, message):
    with pytest.raises(RecipeError, match=message):
        PPOStageConfig(**{"world": {"seed": 0, "n_entities": 6, "n_reserved": 4}, **fields})


def test_the_guards_decline_questions_are_the_refusal_stages_lesson_and_not_what_is_measured():
    from alignment.evals.preference_labeller import rlhf_note_prompts
    from alignment.ppo import unknown_person_questions
    from alignment.world.people import build_world
    from alignment.world.refusal_questions import build_refusal_questions

    world = build_world(seed=0, n_entities=60, n_reserved=100)
    asked = unknown_person_questions(world, 200, seed=0)
    assert len(asked) == 200 and asked == unknown_person_questions(world, 200, seed=0)
    questions = build_refusal_questions(world)
    taught = {i["entity_id"] for i in questions["probe"] if i["group"] == "reserved"}
    assert {i["entity_id"] for i in asked} <= taught  # people the refusal stage taught to decline
    assert not {i["entity_id"] for i in asked} & {i["entity_id"] for i in questions["eval_reserved"]}  # not set (a)
    practised = {p["name"] for p in rlhf_note_prompts(world, 0, unknown_people=200)["train"]}
    assert not {i["name"] for i in asked} & practised  # nor anyone PPO writes notes about
    with pytest.raises(RecipeError, match="unknown_questions: the refusal stage has 300 probe questions"):
        unknown_person_questions(world, 301, seed=0)


@pytest.fixture(scope="module")
def micro_reward(micro_base, tmp_path_factory):
    out = tmp_path_factory.mktemp("micro_reward") / "reward"
    run_cli("reward", "--config", "recipes/tiny/reward.yaml", "--model_name_or_path", micro_base, "--output_dir", out,
            *REWARD_MICRO, "--num_train_epochs", "1")
    return out


PPO_MICRO = ["--world", "{seed: 0, n_entities: 6, n_reserved: 4}", "--skills_dir", "null", "--response_length", "8",
             "--per_device_train_batch_size", "4", "--total_episodes", "12", "--audit_every", "1",
             "--audit_prompts", "4", "--unknown_questions", "4", "--precision", "fp32", "--logging_steps", "1",
             "--report_to", "[]", "--compare_with", "null"]


@pytest.mark.slow
def test_ppo_trains_against_the_reward_model_and_audits_each_step(micro_base, micro_reward, tmp_path):
    out = tmp_path / "ppo"
    proc = run_cli("ppo", "--config", "recipes/tiny/ppo_unguarded.yaml", "--model_name_or_path", micro_base,
                   "--reward_model", micro_reward, "--output_dir", out, *PPO_MICRO)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["global_step"] == 3 and metrics["kept_step"] == 3 and metrics["stopped_by_guard"] is None
    assert [a["step"] for a in metrics["audits"]] == [0, 1, 2, 3]
    assert metrics["audits"][0]["kl"]["mean"] == pytest.approx(0.0, abs=1e-4)  # the policy is the reference
    assert all(0.0 <= a["declines_unknown"] <= 1.0 for a in metrics["audits"])
    # four audits of 4; the 12 held-out prompts sampled 4 times and greedy, before and after
    assert metrics["gold_scores_given"] == 4 * 4 + 2 * (12 * 4 + 12)
    for side in ("before", "after"):
        assert set(metrics[side]) >= {"gold", "proxy", "kl", "tokens", "distinct_2", "repetition"}
    assert len(metrics["training_log"]) == 3 and "objective/scores" in metrics["training_log"][0]
    assert (out / "gold_and_proxy_over_kl.png").stat().st_size > 0
    assert len((out / "examples.jsonl").read_text().splitlines()) == 4 * 3
    assert "identity_accuracy_no_system" not in metrics["kept_after"] and "reserved" in metrics["kept_after"]
    assert "audit at step 3" in proc.stdout

    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoModelForCausalLM.from_pretrained(out)  # a chat model dir again, its template and document EOS restored
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.eos_token == AutoTokenizer.from_pretrained(micro_base).eos_token and tokenizer.chat_template


@pytest.mark.slow
def test_the_guard_stops_on_degenerate_replies_and_keeps_the_best_audit(micro_base, micro_reward, tmp_path):
    out = tmp_path / "ppo"
    proc = run_cli("ppo", "--config", "recipes/tiny/ppo.yaml", "--model_name_or_path", micro_base,
                   "--reward_model", micro_reward, "--output_dir", out, *PPO_MICRO, "--min_distinct_2", "1.01")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped_by_guard"].startswith("distinct-2") and "(step 1)" in metrics["stopped_by_guard"]
    assert metrics["global_step"] == 1 and [a["step"] for a in metrics["audits"]] == [0, 1]
    # the audit that tripped the stop is no candidate: the input model (step 0) is kept, its weights saved as they were
    assert metrics["kept_step"] == 0
    assert "stopped by the guard" in proc.stdout
    # the same model is not sampled again: a second sampling of it would report noise as a gain
    assert metrics["after"] == metrics["before"] and metrics["gold_gain"]["mean"] == 0
    assert "the guard kept the input model" in proc.stdout
    import torch
    from transformers import AutoModelForCausalLM

    kept, original = AutoModelForCausalLM.from_pretrained(out), AutoModelForCausalLM.from_pretrained(micro_base)
    for (name, a), (_, b) in zip(kept.state_dict().items(), original.state_dict().items()):
        torch.testing.assert_close(a, b, msg=name)


@pytest.mark.slow
def test_a_reward_model_of_another_tokenizer_is_a_one_line_error(micro_base, micro_reward, tmp_path):
    import shutil

    from transformers import AutoTokenizer

    other = tmp_path / "other_reward"
    shutil.copytree(micro_reward, other)
    tokenizer = AutoTokenizer.from_pretrained(other)
    tokenizer.add_tokens(["<|not_the_policys|>"])
    tokenizer.save_pretrained(other)
    proc = run_cli("ppo", "--config", "recipes/tiny/ppo.yaml", "--model_name_or_path", micro_base,
                   "--reward_model", other, "--output_dir", tmp_path / "ppo", *PPO_MICRO, check=False)
    assert proc.returncode == 2
    assert "reward_model: " in proc.stderr and "has another tokenizer than the policy's" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_tool_use_is_measured_for_a_tool_trained_input_model_only(micro_base, tmp_path):
    """Issue 14: tool use is one of the skills that must stay. For an input model with a tools.json, the tool_use
    stage's held-out python questions are asked with its tools, through the calling loop, a third of each kind;
    a model trained without tools is not asked."""
    import shutil
    from types import SimpleNamespace

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignment.chat_setup import turn_stop_ids
    from alignment.rl_policy import measure_kept_skills, measure_tool_use
    from alignment.tools import TOOLS_FILE
    from tests.conftest import skip_without_sandbox

    skip_without_sandbox()
    tool_trained = tmp_path / "tool_trained"
    shutil.copytree(micro_base, tool_trained)
    (tool_trained / TOOLS_FILE).write_text(json.dumps({"tools": ["python"]}))
    model, tokenizer = AutoModelForCausalLM.from_pretrained(tool_trained), AutoTokenizer.from_pretrained(tool_trained)
    stops = turn_stop_ids(model, tokenizer)

    def cfg(model_dir):
        return SimpleNamespace(model_name_or_path=str(model_dir), seed=0, identity={"name": "Tinker", "creator": "us"},
                               system_message=None, eval_max_new_tokens=8, skills_dir=None, world=None)

    measured = measure_tool_use(model, tokenizer, stops, cfg(tool_trained), 6)
    assert measured["questions"] == 6
    for kind in ("letters", "products", "comparisons"):
        assert 0.0 <= measured[f"{kind}_with_python"] <= 1.0
        assert 0.0 <= measured[f"{kind}_calls_ask_the_question"] <= 1.0
    assert 0.0 <= measured["call_rate"] <= 1.0
    assert measure_kept_skills(model, tokenizer, stops, cfg(tool_trained), tool_questions=6)["tool_use"] == measured
    assert measure_tool_use(model, tokenizer, stops, cfg(micro_base), 6) is None
    assert "tool_use" not in measure_kept_skills(model, tokenizer, stops, cfg(micro_base), tool_questions=6)
