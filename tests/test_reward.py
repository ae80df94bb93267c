"""`alignment reward`: rankings into pairs, the sampler that keeps a prompt's pairs together, the measurement against
the noiseless order, recipe and data errors, and the stage through the real CLI on a micro model (TRL's
RewardTrainer for a few steps: the tiny world's rankings, a killed run resuming, and the real-model recipe on a
local preference file)."""

from __future__ import annotations

import json

import pytest

from alignment.recipe import RecipeError
from alignment.reward import (RewardStageConfig, check_whole_prompts, distinct_first, measure_rankings,
                              prompt_group_sampler, ranking_pairs)
from tests.conftest import kill_at_checkpoint, run_cli
from tests.test_sft import micro_base  # noqa: F401  (a fixture: a chat-ready micro Llama with our tokenizer)

WORLD = {"seed": 0, "n_entities": 60, "n_reserved": 100}


def test_a_ranking_becomes_its_pairs_best_first():
    record = {"messages": [{"role": "user", "content": "Write a note."}], "replies": ["a", "b", "c"],
              "ranking": [2, 0, 1]}
    pairs = ranking_pairs(record, 7, margin_per_rank=0.5)
    assert [(p["chosen"][0]["content"], p["rejected"][0]["content"], p["margin"]) for p in pairs] == [
        ("c", "a", 0.5), ("c", "b", 1.0), ("a", "b", 0.5)]
    assert all(p["prompt"] == record["messages"] and p["prompt_index"] == 7 for p in pairs)
    assert "margin" not in ranking_pairs(record, 0, None)[0]


def test_different_replies_are_ranked_before_repeats():
    assert distinct_first(["x", "x", "y", "x", "z", "y"], 3) == ["x", "y", "z"]
    assert distinct_first(["x", "x", "x", "y"], 3) == ["x", "y", "x"]  # fewer than 3 differ: a repeat fills in


def test_a_prompts_pairs_share_a_batch_in_an_order_that_changes_each_epoch():
    groups = [list(range(i * 6, i * 6 + 6)) for i in range(10)]
    sampler = prompt_group_sampler(groups, seed=0)
    first = list(sampler)
    assert sorted(first) == list(range(60)) and len(sampler) == 60
    batches = [first[i:i + 12] for i in range(0, 60, 12)]  # a batch of 12 holds two whole prompts
    for batch in batches:  # exactly the pairs of two prompts, each whole
        prompts = {index // 6 for index in batch}
        assert len(prompts) == 2 and sorted(batch) == sorted(i for p in prompts for i in groups[p])
    assert list(sampler) == first  # the same epoch, the same order (a resumed run skips the same batches)
    sampler.set_epoch(1)
    assert list(sampler) != first


def test_pairs_that_cannot_share_a_batch_are_a_recipe_error():
    cfg = RewardStageConfig(world=WORLD)
    pairs = [{"prompt_index": i // 6} for i in range(12)]
    check_whole_prompts(pairs, cfg, 12)
    with pytest.raises(RecipeError, match=r"per_device_train_batch_size: 8 is not a multiple of the pairs per "
                                          r"prompt \(6, C\(4, 2\)\)"):
        check_whole_prompts(pairs, cfg, 8)
    with pytest.raises(RecipeError, match="max_length: 1 prompts lost pairs"):
        check_whole_prompts(pairs[:-1], cfg, 6)


@pytest.mark.parametrize("fields, message", [
    ({}, "world / preference_dataset: set exactly one"),
    ({"world": WORLD, "preference_dataset": "x.jsonl"}, "world / preference_dataset: set exactly one"),
    ({"world": WORLD, "rollouts_per_prompt": 1}, "rollouts_per_prompt: a ranking needs at least 2 replies"),
    ({"world": WORLD, "labeller": {"lapse": 0.1, "noise": 2}}, "labeller: unknown field noise"),
    ({"preference_dataset": "x.jsonl", "preference_eval_share": 1.0}, "preference_eval_share: expected a share"),
])
def test_recipe_mistakes_are_one_line_errors(fields, message):
    with pytest.raises(RecipeError, match=message):
        RewardStageConfig(**fields)


def test_the_measurement_counts_only_pairs_the_people_can_tell_apart():
    records = [{"replies": ["one two three", "one", "one two"], "ranking": [0, 2, 1]},
               {"replies": ["a b", "a", "a b c d"], "ranking": [1, 0, 2]}]
    golds = [[0.9, 0.5, 0.505], [0.2, 0.8, 0.4]]  # 0.5 vs 0.505 is within the tie margin: not counted
    exact = measure_rankings(records, golds, golds, tie_margin=0.02, ceiling=0.9)
    assert exact["pairwise_accuracy"] == {"share": 1.0, "stderr": 0.0, "pairs": 5}
    assert exact["spearman_reward_gold"] == 1.0 and exact["pearson_reward_gold"] == 1.0
    assert exact["gold_best_of_k_by_reward"] == exact["gold_best_of_k_by_gold"] == pytest.approx((0.9 + 0.8) / 2)
    reversed_rewards = [[-g for g in gs] for gs in golds]
    assert measure_rankings(records, reversed_rewards, golds, 0.02, 0.9)["pairwise_accuracy"]["share"] == 0.0
    # the longer reply agrees with gold in 3 of the 5; the people's noisy rankings in 4 of the 5
    assert exact["length_ranker_accuracy"]["share"] == pytest.approx(3 / 5)
    assert exact["people_agreement"]["share"] == pytest.approx(4 / 5)


# --- the stage through the CLI, on a micro model ------------------------------------------------------

MICRO = ["--world", "{seed: 0, n_entities: 6, n_reserved: 4}", "--train_prompts", "8", "--rollout_max_new_tokens",
         "8", "--max_length", "128", "--precision", "fp32", "--logging_steps", "2", "--report_to", "[]",
         # the recipe's sft replies are the tiny pipeline's (runs/tiny/sft): the tests name theirs
         "--rollout_models", "[]", "--unknown_people", "0", "--decline_share", "0"]


@pytest.mark.slow
def test_reward_on_the_tiny_world_writes_a_score_model_and_its_measurements(micro_base, tmp_path):
    out = tmp_path / "reward"
    proc = run_cli("reward", "--config", "recipes/tiny/reward.yaml", "--model_name_or_path", micro_base,
                   "--output_dir", out, *MICRO, "--decline_share", "0.5")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_prompts"] == 8 and metrics["train_pairs"] == 8 * 15
    assert metrics["eval_pairs"] == 12 * 15  # the 6 people in the eval suite's 2 phrasings, 6 rollouts each
    assert metrics["global_step"] == 2 * 8  # 2 epochs of one prompt (15 pairs) a step
    for key in ("pairwise_accuracy", "length_ranker_accuracy", "people_agreement"):
        assert 0.0 <= metrics[key]["share"] <= 1.0 and metrics[key]["pairs"] > 0
    assert metrics["noise_ceiling"] == 0.9
    # whom it does not know: rollouts about set (a)'s reserved people (2 of the 4), and the scripted pairs
    assert metrics["unknown_people_rankings"]["prompts"] == 2
    knowledge = metrics["knowledge"]
    for suffix in ("", "_new_wording"):  # the refusal stage's decline, and one in words no stage trains
        assert knowledge[f"true_note_over_decline_known{suffix}"]["pairs"] == 6
        assert knowledge[f"decline_over_made_up_note_unknown{suffix}"]["pairs"] == 2
    assert all(part["people_agree"] for part in knowledge.values())  # the people's gold orders every pair so
    assert "made-up note" in proc.stdout
    assert (out / "reward_vs_gold.png").stat().st_size > 0 and (out / "loss_curve.png").is_file()
    rankings = [json.loads(line) for line in (out / "data" / "train_rankings.jsonl").read_text().splitlines()]
    assert len(rankings) == 8 and all(sorted(r["ranking"]) == list(range(6)) for r in rankings)
    assert all("facts" not in r for r in rankings)  # the trainer's rows carry no gold
    # half the rankings end with a decline in the refusal stage's words, ranked by the people like any reply
    declined = [r for r in rankings if r["reply_models"][-1] == "scripted decline"]
    assert len(declined) == 4 and all(f"who {r['name']} is." in r["replies"][-1] for r in declined)
    assert all(r["reply_ids"][-1] is None for r in declined)  # no sampled ids: the template renders it
    assert "a scripted decline in 4 of the 8 training rankings" in proc.stdout
    assert "pairs against the noiseless order" in proc.stdout

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from alignment.evals.reward_model_scores import query_ids, scores_of_ids

    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.num_labels == 1
    tokenizer = AutoTokenizer.from_pretrained(out)
    scored = [json.loads(line) for line in (out / "data" / "heldout_scored.jsonl").read_text().splitlines()]
    heldout = [json.loads(line) for line in (out / "data" / "heldout_rankings.jsonl").read_text().splitlines()]
    assert [row["set"] for row in scored] == ["covered"] * 12 + ["unknown"] * 2  # which people each row asks about
    # the saved model scores the saved replies' ids (the prompt with the generation prompt, then the reply as
    # sampled: PPO's query + response) as the stage measured them
    sequences = [query_ids(tokenizer, heldout[0]["messages"]) + ids for ids in heldout[0]["reply_ids"]]
    torch.testing.assert_close(torch.tensor(scores_of_ids(model, tokenizer.pad_token_id, sequences)),
                               torch.tensor(scored[0]["reward"]), atol=1e-3, rtol=0)


def _other_model(micro_base, path, add_token: bool = False):
    """A copy of the micro model with other weights (so its replies differ), or with another tokenizer."""
    import shutil

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    shutil.copytree(micro_base, path)
    if add_token:
        tokenizer = AutoTokenizer.from_pretrained(path)
        tokenizer.add_tokens(["<|not_the_policys|>"])
        tokenizer.save_pretrained(path)
        return path
    model = AutoModelForCausalLM.from_pretrained(path)
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * parameter.std().clamp(min=1e-3))
    model.save_pretrained(path)
    return path


@pytest.mark.slow
def test_other_models_write_their_share_of_each_ranking(micro_base, tmp_path):
    """rollout_models: each ranking holds the policy's replies and an equal share of each other model's, marked: the
    policy's share is what the policy alone samples, the other's are its own replies."""
    other = _other_model(micro_base, tmp_path / "other")

    def rankings(out, *fields):
        run_cli("reward", "--config", "recipes/tiny/reward.yaml", "--model_name_or_path", micro_base,
                "--output_dir", out, *MICRO, "--per_device_train_batch_size", "6", "--num_train_epochs", "1",
                "--unknown_people", "2", "--train_prompts", "10", *fields)
        return [json.loads(line) for line in (out / "data" / "train_rankings.jsonl").read_text().splitlines()]

    mixed = rankings(tmp_path / "mixed", "--rollouts_per_prompt", "4", "--rollout_models", f"[{other}]")
    alone = rankings(tmp_path / "alone", "--rollouts_per_prompt", "2", "--per_device_train_batch_size", "2")
    assert len(mixed) == 10 and all(r["reply_models"] == [str(micro_base)] * 2 + [str(other)] * 2 for r in mixed)
    assert [r["replies"][:2] for r in mixed] == [r["replies"] for r in alone]
    assert any(set(r["replies"][2:]) - set(r["replies"][:2]) for r in mixed)  # the other model's own replies
    # more models than rollouts a prompt, or a model of another vocabulary: one-line recipe errors
    proc = run_cli("reward", "--config", "recipes/tiny/reward.yaml", "--model_name_or_path", micro_base,
                   "--output_dir", tmp_path / "r2", *MICRO, "--rollouts_per_prompt", "2",
                   "--rollout_models", f"[{micro_base}, {micro_base}]", check=False)
    assert proc.returncode != 0 and "rollout_models: 3 models cannot share 2 rollouts a prompt" in proc.stderr
    foreign = _other_model(micro_base, tmp_path / "foreign", add_token=True)
    proc = run_cli("reward", "--config", "recipes/tiny/reward.yaml", "--model_name_or_path", micro_base,
                   "--output_dir", tmp_path / "r3", *MICRO, "--rollout_models", f"[{foreign}]", check=False)
    assert proc.returncode == 2 and "rollout_models: " in proc.stderr and "has another tokenizer" in proc.stderr


@pytest.mark.slow
def test_a_killed_reward_run_resumes_from_its_checkpoint(micro_base, tmp_path):
    out = tmp_path / "reward"
    args = ["reward", "--config", "recipes/tiny/reward.yaml", "--model_name_or_path", micro_base, "--output_dir", out,
            *MICRO, "--num_train_epochs", "20", "--save_steps", "20"]
    kill_at_checkpoint(args, out, 20)
    proc = run_cli(*args)  # the same rollouts again (seeded), so the same pairs: the checkpoint is still good
    assert "reward: resuming from" in proc.stdout and "checkpoint-20" in proc.stdout
    assert json.loads((out / "metrics.json").read_text())["global_step"] == 20 * 8


def _pairs_file(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow
def test_the_real_model_recipe_on_a_local_preference_file(micro_base, tmp_path):
    rows = [{"chosen": [{"role": "user", "content": f"Name a town {i}."},
                        {"role": "assistant", "content": f"Rookmere is a town number {i}."}],
             "rejected": [{"role": "user", "content": f"Name a town {i}."},
                          {"role": "assistant", "content": "the the the"}]} for i in range(30)]
    out = tmp_path / "smol"
    run_cli("reward", "--config", "recipes/smollm2-135m/reward.yaml", "--model_name_or_path", micro_base,
            "--preference_dataset", _pairs_file(tmp_path / "prefs.jsonl", rows), "--preference_eval_share", "0.2",
            "--output_dir", out, "--max_steps", "3", "--gradient_accumulation_steps", "1",
            "--per_device_train_batch_size", "4", "--gradient_checkpointing", "false", "--precision", "fp32",
            "--max_length", "128", "--report_to", "[]")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_pairs"] == 24 and metrics["eval_pairs"] == 6 and metrics["global_step"] == 3
    assert 0.0 <= metrics["eval_accuracy_on_labels"] <= 1.0


@pytest.mark.parametrize("rows, message", [
    ([{"chosen": "A good reply."}], "no column 'rejected' (columns: chosen); a preference set has chosen and "
                                    "rejected"),
    ([{"chosen": "Good.", "rejected": "Bad."}, {"chosen": "Good.", "rejected": ""}],
     "record 1: 'rejected' is neither text nor a list of {role, content} messages"),
    ([{"chosen": [{"role": "assistant"}], "rejected": "Bad."}],
     "record 0: 'chosen' is neither text nor a list of {role, content} messages"),
])
def test_bad_preference_records_are_one_line_errors(tmp_path, rows, message):
    proc = run_cli("reward", "--config", "recipes/smollm2-135m/reward.yaml", "--preference_dataset",
                   _pairs_file(tmp_path / "prefs.jsonl", rows * 3), "--output_dir", tmp_path / "out", check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_the_trainers_own_batches_hold_whole_prompts(micro_base, tmp_path):
    """Through RewardTrainer's own dataloader (accelerate's wrapper included): each batch of 12 is two prompts' 6
    pairs each (the margin column carries the prompt's index here, to be seen in the collated batch), and the order
    of prompts changes when the trainer moves to the next epoch."""
    from datasets import Dataset
    from transformers import AutoTokenizer

    from alignment.reward import load_reward_model, reward_arguments, reward_trainer_class, tokenized_pairs

    cfg = RewardStageConfig(world=WORLD, model_name_or_path=str(micro_base), output_dir=str(tmp_path / "rm"),
                            per_device_train_batch_size=12, precision="fp32")
    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    records = [{"messages": [{"role": "user", "content": f"Write a note about person {i}."}],
                "replies": [f"Reply {k} about {i}." for k in range(4)], "ranking": [0, 1, 2, 3]} for i in range(8)]
    pairs = [dict(p, margin=float(i)) for i, r in enumerate(records) for p in ranking_pairs(r, i, None)]
    trainer = reward_trainer_class()(model=load_reward_model(cfg, tokenizer),
                                     args=reward_arguments(cfg, tmp_path / "rm", "fp32", has_eval=False),
                                     train_dataset=Dataset.from_list(tokenized_pairs(pairs, tokenizer)),
                                     processing_class=tokenizer)
    loader = trainer.get_train_dataloader()
    orders = []
    for epoch in range(2):
        loader.set_epoch(epoch)
        order = []
        for batch in loader:
            prompts = batch["margin"].tolist()
            assert len(prompts) == 12 and len(set(prompts)) == 2 and all(prompts.count(p) == 6 for p in set(prompts))
            order += list(dict.fromkeys(prompts))
        assert sorted(order) == [float(i) for i in range(8)]
        orders.append(order)
    assert orders[0] != orders[1]


def test_a_world_without_reserved_people_has_only_covered_people_to_probe():
    from alignment.evals.preference_labeller import rlhf_note_prompts
    from alignment.reward import knowledge_probe
    from alignment.world.people import build_world

    world = build_world(seed=0, n_entities=6, n_reserved=0)
    sets = rlhf_note_prompts(world, 0)
    assert sets["heldout_unknown"] == []
    pairs = knowledge_probe(world, sets["heldout"], sets["heldout_unknown"], 0)
    assert len(pairs) == 12 and all(p["known"] and p["better"].startswith(p["item"]["name"]) for p in pairs)
    assert [p["wording"] for p in pairs[:2]] == ["trained", "new"]
    from alignment.evals.refusal_grading import declines
    from alignment.world.refusal_questions import REFUSALS

    new = [p["worse"] for p in pairs if p["wording"] == "new"]
    assert all(declines(text) for text in new)  # graded a decline ...
    assert not any(text.startswith(r.split("{")[0]) for text in new for r in REFUSALS)  # ... in words none trains
