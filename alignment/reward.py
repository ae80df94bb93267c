"""`alignment reward`: a reward model that learns people's preferences from their rankings (stage 6, RLHF part 1).

The picture from "Deep Dive into LLMs like ChatGPT": nobody can verify a joke about pelicans, and nobody can score a
billion rollouts by hand. So people order a few rollouts per prompt (the video: 1,000 prompts x 5 rollouts), a
reward model learns to simulate their preferences, and RL runs against the simulator (the ppo stage).

    alignment reward --config recipes/tiny/reward.yaml

1. Rollouts (the tiny world): `rollouts_per_prompt` replies to each of `train_prompts` note prompts ("Write a few
   sentences about Velmora Quist."; with `unknown_people`, some about people in no corpus), sampled at
   `rollout_temperature`: the policy's (the input model's), or an equal share of the policy's and of each of
   `rollout_models`', different replies first (`rollout_draws`); in `decline_share` of the training rankings the
   last reply is a scripted decline in the refusal stage's words. As many to the held-out notes: every covered
   person in the eval suite's phrasings, and set (a)'s reserved people (no page anywhere), which no trainer sees.
2. Rankings: the tiny world's people (alignment/evals/preference_labeller.py, hidden from the trainer: it sees only
   their orders) rank each prompt's replies with human-like noise. A ranking of k replies becomes its C(k, 2)
   chosen / rejected pairs, with a margin from the rank gap where the recipe asks for one. Or, instead of 1-2, any
   hub / local preference set (chosen / rejected, plain text or conversations, an optional prompt column).
3. Train: TRL's RewardTrainer (every RewardConfig field a recipe field) on a sequence-classification head on the
   policy's own model (sharing its tokenizer). A prompt's pairs share a batch (a sampler of ours: RewardTrainer
   shuffles pairs apart). A killed run resumes from its last checkpoint.
4. Measure on the held-out rankings: pairwise accuracy against the labeller's noiseless order, beside a ranker that
   prefers the longer reply and the noise ceiling, and the correlation of reward and gold score, for covered people
   and (`unknown_people_rankings`) for people nobody can know; whom it knows it does not know (`knowledge`:
   scripted true notes, made-up notes and declines); metrics.json, and a plot of reward against gold score.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from alignment.recipe import RecipeError, stage_main
from alignment.sft_training import AssistantTrainingFields


@dataclass
class RewardStageConfig(AssistantTrainingFields):
    """The training fields every stage that trains a model of the chat has (alignment/sft_training.py), the
    rollouts and rankings, or a preference set; every other field of TRL's RewardConfig (center_rewards_coefficient,
    disable_dropout, ...) too."""

    output_dir: str = field(default="runs/tiny/reward", metadata={"help": "The reward model's dir + metrics."})
    model_name_or_path: str = field(default="runs/tiny/tool_use", metadata={
        "help": "The policy: its rollouts are ranked, and its weights (with a new one-output head) start the reward "
                "model, which shares its tokenizer; any chat model dir or a hub id."})
    max_length: int = field(default=512, metadata={"help": "Pairs longer than this (tokens, either side) are dropped."})

    # --- the tiny world's rollouts and rankings
    world: dict | None = field(default=None, metadata={
        "help": "The tiny world ({seed, n_entities, n_reserved}): note prompts about its people, ranked by its "
                "labeller."})
    train_prompts: int | None = field(default=300, metadata={
        "help": "Note prompts whose rollouts are ranked for training (None: every one, 5 phrasings per person)."})
    rollouts_per_prompt: int = field(default=4, metadata={"help": "Replies ranked per prompt (k: C(k, 2) pairs)."})
    rollout_temperature: float = field(default=1.0, metadata={"help": "Temperature of the sampled rollouts."})
    rollout_draws: int = field(default=1, metadata={
        "help": "Each model samples this many times its share of rollouts_per_prompt replies and keeps its share, "
                "different ones first (a small model repeats itself: 534 of 1,800 tiny pairs were two identical "
                "replies)."})
    rollout_max_new_tokens: int = field(default=64, metadata={"help": "Reply budget of a rollout."})
    rollout_models: list[str] = field(default_factory=list, metadata={
        "help": "More models (dirs or hub ids, the policy's tokenizer) whose replies join the policy's in each ranking, "
                "an equal share each (Llama 2 ranked replies of several model variants): a model that never learnt "
                "to decline shows the people what a made-up note about someone nobody knows looks like."})
    labeller: dict = field(default_factory=lambda: {"lapse": 0.2, "tie_margin": 0.02, "seed": 0}, metadata={
        "help": "The tiny world's people (preference_labeller.Labeller): lapse (share of random picks), tie_margin, "
                "seed."})
    unknown_people: int = field(default=0, metadata={
        "help": "Training note prompts about this many people in no corpus besides the world's (preference_labeller."
                "rlhf_note_prompts): the people prefer a decline there, so practising notes does not undo refusals."})
    decline_share: float = field(default=0.0, metadata={
        "help": "Share of the training rankings whose last reply is replaced by a decline in the refusal stage's "
                "words (\"Sorry, but I don't know who X is.\"), ranked by the people like any reply: below a true "
                "note about someone the world covers, above a made-up one about someone nobody knows. A policy that "
                "learnt to decline rarely does so about people it knows, so without these the reward model never "
                "sees what a decline is worth there."})
    margin_per_rank: float | None = field(default=None, metadata={
        "help": "A margin of this much per rank apart in each pair's loss (TRL's margin column); None: no margin."})

    # --- or a preference set
    preference_dataset: str | None = field(default=None, metadata={
        "help": "A preference set instead of the world (hub id, or a local .jsonl/.json/.csv/.parquet): chosen and "
                "rejected columns, plain text or conversations, an optional prompt column."})
    preference_split: str = field(default="train", metadata={"help": "Split of a hub preference set."})
    preference_eval_share: float = field(default=0.1, metadata={
        "help": "Share of the preference set held out for measurement (never trained on)."})
    max_pairs: int | None = field(default=None, metadata={"help": "Use at most this many pairs of the set."})

    TRAINER_ARGUMENTS: ClassVar[str] = "trl:RewardConfig"

    def __post_init__(self):
        super().__post_init__()
        if (self.world is None) == (self.preference_dataset is None):
            raise RecipeError("world / preference_dataset: set exactly one (the tiny world's rankings, or a set of "
                              "chosen / rejected pairs)")
        if self.rollouts_per_prompt < 2:
            raise RecipeError(f"rollouts_per_prompt: a ranking needs at least 2 replies, got "
                              f"{self.rollouts_per_prompt}")
        if len(self.rollout_models) + 1 > self.rollouts_per_prompt:
            raise RecipeError(f"rollout_models: {len(self.rollout_models) + 1} models cannot share "
                              f"{self.rollouts_per_prompt} rollouts a prompt; raise rollouts_per_prompt")
        if not 0.0 <= self.decline_share <= 1.0:
            raise RecipeError(f"decline_share: expected a share between 0 and 1, got {self.decline_share}")
        if not 0.0 < self.preference_eval_share < 1.0:
            raise RecipeError(f"preference_eval_share: expected a share between 0 and 1, got "
                              f"{self.preference_eval_share}")
        unknown = set(self.labeller) - {"lapse", "tie_margin", "seed"}
        if unknown:
            raise RecipeError(f"labeller: unknown field {', '.join(sorted(unknown))} (fields: lapse, tie_margin, seed)")

    @property
    def pairs_per_prompt(self) -> int:
        return math.comb(self.rollouts_per_prompt, 2)


# --- rollouts and rankings (the tiny world) --------------------------------------------------------------

def sample_rollouts(model, tokenizer, stops: list[int], prompts: list[dict], cfg: RewardStageConfig,
                    k: int) -> list[list[dict]]:
    """`k` sampled replies to each prompt (one model's share of rollouts_per_prompt), in prompt order: each its text
    and its token ids as generated (what PPO will hand the reward model: no decode and re-encode between)."""
    import torch

    from alignment.evals.assistant_probes import generate_replies

    drawn = k * cfg.rollout_draws
    torch.manual_seed(cfg.seed)
    replies = generate_replies(model, tokenizer, [p["messages"] for p in prompts for _ in range(drawn)],
                               cfg.rollout_max_new_tokens, stops, batch_size=256, temperature=cfg.rollout_temperature)
    out = []
    for i in range(len(prompts)):
        drawn_here = replies[i * drawn:(i + 1) * drawn]
        ids = {}
        for reply in drawn_here:
            ids.setdefault(reply["text"], reply["ids"])  # one reply's ids for each text
        out.append([{"text": t, "ids": ids[t]} for t in distinct_first([r["text"] for r in drawn_here], k)])
    return out


def rollouts_of_models(cfg: RewardStageConfig, prompts: list[dict]) -> list[list[dict]]:
    """Each prompt's rollouts_per_prompt replies: the policy's, and an equal share of each of rollout_models' (the
    policy's first; each reply marked with its model)."""
    from dataclasses import replace

    from alignment.chat_setup import check_same_vocabulary
    from alignment.sft_training import prepare_model
    from alignment.training import resolve_precision

    check_same_vocabulary(("model_name_or_path", cfg.tokenizer or cfg.model_name_or_path),
                          [("rollout_models", name) for name in cfg.rollout_models],
                          "the reward model reads every reply's token ids as sampled")
    models = [cfg.model_name_or_path, *cfg.rollout_models]
    shares = [cfg.rollouts_per_prompt // len(models) + (i < cfg.rollouts_per_prompt % len(models))
              for i in range(len(models))]
    merged: list[list[dict]] = [[] for _ in prompts]
    for name, share in zip(models, shares):
        model, tokenizer, _, stops = prepare_model(replace(cfg, model_name_or_path=name),
                                                   resolve_precision(cfg.precision))
        for replies, more in zip(merged, sample_rollouts(model, tokenizer, stops, prompts, cfg, share)):
            replies += [{**reply, "model": name} for reply in more]
        del model
    return merged


def distinct_first(replies: list[str], k: int) -> list[str]:
    """`k` of the replies, different ones first (in drawn order), repeats only where fewer than k differ: a pair of
    two identical replies teaches a reward model nothing."""
    distinct = list(dict.fromkeys(replies))
    repeats = [r for i, r in enumerate(replies) if r in replies[:i]]
    return (distinct + repeats)[:k]


def ranked_rollouts(prompts: list[dict], replies: list[list[dict]], labeller) -> list[dict]:
    """Each prompt with its replies (texts, their ids as generated, the model that wrote each) and the people's
    ranking of them (indices, preferred first)."""
    records = []
    for p, r in zip(prompts, replies):
        texts = [reply["text"] for reply in r]
        records.append({"messages": p["messages"], "name": p["name"], "replies": texts,
                        "reply_ids": [reply["ids"] for reply in r],
                        **({"reply_models": [reply["model"] for reply in r]} if all("model" in x for x in r) else {}),
                        "ranking": labeller.rank(p, texts)})
    return records


def tokenized_pairs(pairs: list[dict], tokenizer) -> list[dict]:
    """ranking_pairs' rows as RewardTrainer's pre-tokenized chosen_ids / rejected_ids: the prompt's ids with the
    generation prompt, then each reply's ids as sampled (PPO's query + response); a reply known only as text,
    rendered by the template through the end of its turn (scored_ids)."""
    from alignment.chat_setup import end_of_turn_ids
    from alignment.evals.reward_model_scores import query_ids, scored_ids

    turn_ends = end_of_turn_ids(tokenizer)

    def side(pair: dict, name: str) -> list[int]:
        if f"{name}_reply_ids" in pair:
            return query_ids(tokenizer, pair["prompt"]) + pair[f"{name}_reply_ids"]
        return scored_ids(tokenizer, pair["prompt"] + pair[name], turn_ends)

    return [{"chosen_ids": side(p, "chosen"), "rejected_ids": side(p, "rejected"),
             **{k: p[k] for k in ("margin", "prompt_index") if k in p}} for p in pairs]


def ranking_pairs(record: dict, index: int, margin_per_rank: float | None) -> list[dict]:
    """A ranking's C(k, 2) chosen / rejected pairs (conversations, as RewardTrainer takes them), each with its
    prompt's index (the sampler keeps a prompt's pairs together) and, where asked, a margin from the rank gap."""
    order = record["ranking"]
    pairs = []
    for better in range(len(order)):
        for worse in range(better + 1, len(order)):
            pair = {"prompt": record["messages"],
                    "chosen": [{"role": "assistant", "content": record["replies"][order[better]]}],
                    "rejected": [{"role": "assistant", "content": record["replies"][order[worse]]}],
                    "prompt_index": index}
            if "reply_ids" in record:  # the tokens as sampled; a scripted reply has none (the template renders it)
                for side, reply in (("chosen", order[better]), ("rejected", order[worse])):
                    if record["reply_ids"][reply] is not None:
                        pair[f"{side}_reply_ids"] = record["reply_ids"][reply]
            if margin_per_rank is not None:
                pair["margin"] = margin_per_rank * (worse - better)
            pairs.append(pair)
    return pairs


# --- a preference set --------------------------------------------------------------------------------

def _is_text_or_messages(value) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return (isinstance(value, list) and bool(value)
            and all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                    for m in value))


def load_preference_pairs(cfg: RewardStageConfig) -> tuple[list[dict], list[dict]]:
    """(train, held-out) rows of the preference set: chosen / rejected (and prompt, where the set has one). A row
    whose sides are not text or a list of messages is a one-line error that names it."""
    from alignment.conversation_files import dataset_rows

    source = cfg.preference_dataset
    rows = dataset_rows(source, cfg.preference_split, "preference_dataset")
    columns = list(rows[0]) if rows else []
    for column in ("chosen", "rejected"):
        if column not in columns:
            raise RecipeError(f"{source}: no column {column!r} (columns: {', '.join(columns)}); a preference set "
                              "has chosen and rejected")
    keep = [c for c in ("prompt", "chosen", "rejected") if c in columns]
    out = []
    for number, row in enumerate(rows):
        if cfg.max_pairs is not None and len(out) >= cfg.max_pairs:
            break
        for column in keep:
            if not _is_text_or_messages(row.get(column)):
                raise RecipeError(f"{source}: record {number}: {column!r} is neither text nor a list of "
                                  f"{{role, content}} messages: {str(row.get(column))[:60]!r}")
        out.append({c: row[c] for c in keep})
    random.Random(f"reward/{cfg.seed}/split").shuffle(out)
    n_eval = max(1, round(cfg.preference_eval_share * len(out)))
    return out[n_eval:], out[:n_eval]


# --- training ----------------------------------------------------------------------------------------

def prompt_group_sampler(groups: list[list[int]], seed: int):
    """A sampler that yields each prompt's pairs one after another, the prompts in a seeded order that changes with
    the epoch: with a batch size that is a multiple of the pairs per prompt, a prompt's pairs share a batch."""
    import torch

    class PromptGroupSampler(torch.utils.data.Sampler):
        def __init__(self):
            self.epoch = 0

        def set_epoch(self, epoch: int) -> None:  # accelerate calls this at each epoch's start
            self.epoch = epoch

        def __iter__(self):
            order = list(range(len(groups)))
            random.Random(f"reward/{seed}/epoch/{self.epoch}").shuffle(order)
            for g in order:
                yield from groups[g]

        def __len__(self) -> int:
            return sum(len(g) for g in groups)

    return PromptGroupSampler()


def reward_trainer_class():
    """TRL's RewardTrainer, with prompt_group_sampler where the train set has a prompt_index column."""
    from trl import RewardTrainer

    class GroupedRewardTrainer(RewardTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.prompt_groups = None
            if "prompt_index" in self.train_dataset.column_names:
                groups: dict[int, list[int]] = {}
                for row, index in enumerate(self.train_dataset["prompt_index"]):
                    groups.setdefault(index, []).append(row)
                self.prompt_groups = list(groups.values())

        def _get_train_sampler(self, train_dataset=None):
            if self.prompt_groups is None:
                return super()._get_train_sampler(train_dataset)
            return prompt_group_sampler(self.prompt_groups, self.args.seed)

    return GroupedRewardTrainer


def check_whole_prompts(pairs: list[dict], cfg: RewardStageConfig, batch_size: int) -> None:
    """A prompt's pairs can only share a batch when every prompt has its C(k, 2) and the batch holds whole prompts."""
    sizes: dict[int, int] = {}
    for pair in pairs:
        sizes[pair["prompt_index"]] = sizes.get(pair["prompt_index"], 0) + 1
    if batch_size % cfg.pairs_per_prompt:
        raise RecipeError(f"per_device_train_batch_size: {batch_size} is not a multiple of the pairs per prompt "
                          f"({cfg.pairs_per_prompt}, C({cfg.rollouts_per_prompt}, 2)): a prompt's pairs would be split "
                          "across batches")
    uneven = [i for i, n in sizes.items() if n != cfg.pairs_per_prompt]
    if uneven:
        raise RecipeError(f"max_length: {len(uneven)} prompts lost pairs longer than {cfg.max_length} tokens; raise it")


def load_reward_model(cfg: RewardStageConfig, tokenizer):
    """The policy's weights under a new one-output head (AutoModelForSequenceClassification), reading the score at
    the last token that is not padding."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from trl.trainer.reward_trainer import suppress_seqcls_warning

    torch.manual_seed(cfg.seed)  # the new head's init
    try:
        with suppress_seqcls_warning():
            model = AutoModelForSequenceClassification.from_pretrained(cfg.model_name_or_path, num_labels=1,
                                                                       dtype=torch.float32)
    except (OSError, ValueError) as e:
        raise RecipeError(f"model_name_or_path: could not load {cfg.model_name_or_path!r} with a score head: "
                          f"{str(e).strip().splitlines()[0]}") from None
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


def reward_chat_template(cfg: RewardStageConfig, model, tokenizer) -> str:
    """The template pairs are rendered with: the recipe's, else the model's own, else ours (a base model: our
    control tokens added, the new rows in the embedding); the policy's, so the reward model reads what it writes."""
    from alignment.chat_setup import _adopt_our_format, _read_template
    from alignment.chat_format import CHAT_TEMPLATE

    if cfg.chat_template:
        tokenizer.chat_template = _read_template(cfg.chat_template)
        return "the recipe's chat_template"
    if tokenizer.chat_template:
        return "the model's own"
    _adopt_our_format(model, tokenizer)
    model.config.pad_token_id = tokenizer.pad_token_id
    tokenizer.chat_template = CHAT_TEMPLATE
    return "ours: the model has no chat template"


def reward_arguments(cfg: RewardStageConfig, out: Path, precision: str, has_eval: bool):
    from trl import RewardConfig

    from alignment.training import trainer_arguments, trainer_settings

    return trainer_arguments(RewardConfig, {
        **trainer_settings(cfg, out, precision),
        "activation_checkpointing": cfg.gradient_checkpointing,
        "max_length": cfg.max_length,
        "eval_strategy": "steps" if has_eval else "no",
        "data_seed": cfg.seed,
        "dataset_num_proc": None,
    }, cfg)


# --- measuring ---------------------------------------------------------------------------------------

def _agrees(a: float, b: float, gap: float) -> float:
    """1 where a - b has the sign of the gold gap, 0 where it has the other, a coin flip's 0.5 on a tie."""
    return 0.5 if a == b else float((a > b) == (gap > 0))


def _share(hits: list[float]) -> dict:
    p = sum(hits) / len(hits) if hits else 0.0
    return {"share": round(p, 4), "stderr": round(math.sqrt(p * (1 - p) / len(hits)), 4) if hits else None,
            "pairs": len(hits)}


def _ranks(values: list[float]) -> list[float]:
    """Ranks from 1, tied values sharing their mean rank (for Spearman's correlation)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def pearson(x: list[float], y: list[float]) -> float | None:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sx = math.sqrt(sum((a - mx) ** 2 for a in x))
    sy = math.sqrt(sum((b - my) ** 2 for b in y))
    if sx == 0 or sy == 0:
        return None
    return round(sum((a - mx) * (b - my) for a, b in zip(x, y)) / (sx * sy), 4)


def measure_rankings(records: list[dict], rewards: list[list[float]], golds: list[list[float]],
                     tie_margin: float, ceiling: float) -> dict:
    """On every pair of a prompt's replies whose gold scores differ by more than the tie margin (the pairs the
    people can tell apart): how often the reward model, a ranker that prefers the longer reply, and the people's own
    noisy ranking agree with the noiseless (gold) order. Standard errors treat the pairs as independent; a prompt's
    pairs share replies, so they are somewhat understated."""
    model_hits, length_hits, people_hits = [], [], []
    for record, reward, gold in zip(records, rewards, golds):
        position = {reply: rank for rank, reply in enumerate(record["ranking"])}
        words = [len(r.split()) for r in record["replies"]]
        for i in range(len(gold)):
            for j in range(i + 1, len(gold)):
                gap = gold[i] - gold[j]
                if abs(gap) <= tie_margin:
                    continue
                model_hits.append(_agrees(reward[i], reward[j], gap))
                length_hits.append(_agrees(words[i], words[j], gap))
                people_hits.append(float((position[i] < position[j]) == (gap > 0)))
    flat_reward = [r for rs in rewards for r in rs]
    flat_gold = [g for gs in golds for g in gs]
    best_by_reward = [gs[max(range(len(rs)), key=rs.__getitem__)] for rs, gs in zip(rewards, golds)]
    return {
        "pairwise_accuracy": _share(model_hits),
        "length_ranker_accuracy": _share(length_hits),
        "people_agreement": _share(people_hits),
        "noise_ceiling": ceiling,
        "pearson_reward_gold": pearson(flat_reward, flat_gold),
        "spearman_reward_gold": pearson(_ranks(flat_reward), _ranks(flat_gold)),
        # best-of-k: what picking the reward model's favourite of each prompt's replies is worth in gold
        "gold_mean_reply": round(sum(flat_gold) / len(flat_gold), 4),
        "gold_best_of_k_by_reward": round(sum(best_by_reward) / len(best_by_reward), 4),
        "gold_best_of_k_by_gold": round(sum(max(gs) for gs in golds) / len(golds), 4),
        "prompts": len(records),
    }


def plot_reward_against_gold(rewards: list[float], golds: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.scatter(golds, rewards, s=10, alpha=0.5)
    ax.set_xlabel("gold score (the tiny world's people, noiseless)")
    ax.set_ylabel("reward model score")
    ax.set_title("held-out replies")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


# --- the stage -------------------------------------------------------------------------------------

def world_rankings(cfg: RewardStageConfig, clock) -> tuple[list[dict], list[dict], list[dict], object, list[dict]]:
    """(train rankings, held-out rankings about covered people, held-out rankings about people nobody can know, the
    labeller, knowledge_probe's pairs on the same held-out prompts): the rollouts to the note prompts, ranked."""
    from alignment.evals.preference_labeller import Labeller, rlhf_note_prompts
    from alignment.world.people import build_world

    world = build_world(**cfg.world)
    sets = rlhf_note_prompts(world, cfg.seed, cfg.unknown_people)
    prompts, heldout_prompts, unknown_prompts = sets["train"][:cfg.train_prompts], sets["heldout"], \
        sets["heldout_unknown"]
    print(f"reward: {cfg.rollouts_per_prompt} rollouts of {', '.join([cfg.model_name_or_path, *cfg.rollout_models])} "
          f"to each of {len(prompts)} training and {len(heldout_prompts)} + {len(unknown_prompts)} held-out note "
          "prompts", flush=True)
    replies = rollouts_of_models(cfg, prompts + heldout_prompts + unknown_prompts)
    if cfg.decline_share:
        added = add_declines(cfg, prompts, replies[:len(prompts)])
        print(f"reward: a scripted decline in {added} of the {len(prompts)} training rankings", flush=True)
    clock.done("rollouts")
    labeller = Labeller(**cfg.labeller)
    train = ranked_rollouts(prompts, replies[:len(prompts)], labeller)
    heldout = ranked_rollouts(heldout_prompts, replies[len(prompts):len(prompts) + len(heldout_prompts)], labeller)
    unknown = ranked_rollouts(unknown_prompts, replies[len(prompts) + len(heldout_prompts):], labeller)
    for record, prompt in zip(heldout + unknown, heldout_prompts + unknown_prompts):
        record["facts"] = prompt["facts"]  # for the gold scores of the measurement only: never in a training row
    return train, heldout, unknown, labeller, knowledge_probe(world, heldout_prompts, unknown_prompts, cfg.seed)


def decline_reply(name: str, rng: random.Random) -> str:
    """A "Who is X?" refusal of the refusal stage in one of its phrasings other than REFUSALS[0], the first one
    knowledge_probe measures with (REFUSALS[1], "Sorry, but I don't know ...", differs from it by one word, so the
    probe measures with NEW_DECLINE too, which no stage trains)."""
    from alignment.world.refusal_questions import REFUSALS, UNKNOWN_WHAT

    return rng.choice(REFUSALS[1:]).format(what=UNKNOWN_WHAT["who_is"].format(name=name))


def add_declines(cfg: RewardStageConfig, prompts: list[dict], replies: list[list[dict]]) -> int:
    """decline_share of the prompts (a seeded draw) get a decline as their last reply, marked as scripted, with no
    sampled ids: tokenized_pairs renders it with the reward model's template through the end of its turn, as it
    does any reply known only as text. A prompt whose replies hold that decline already is left as it is. Returns
    how many were added."""
    rng = random.Random(f"reward/{cfg.seed}/declines")
    chosen = rng.sample(range(len(prompts)), round(cfg.decline_share * len(prompts)))
    added = 0
    for i in sorted(chosen):
        text = decline_reply(prompts[i]["name"], rng)
        if any(reply["text"] == text for reply in replies[i]):
            continue
        replies[i][-1] = {"text": text, "ids": None, "model": "scripted decline"}
        added += 1
    return added


# A decline in words no stage trains (the refusal stage's are REFUSALS; its grading counts this one a decline too)
NEW_DECLINE = "I have never heard of {name}, so I cannot write about them."


def knowledge_probe(world, heldout_prompts: list[dict], unknown_prompts: list[dict], seed: int) -> list[dict]:
    """Does the reward model know whom the assistant does not know? Scripted pairs on the held-out note prompts:
    for each covered person, a true note (two of their facts) against a decline; for each of set (a)'s reserved
    people (no page anywhere), the same two-sentence note (facts of theirs no page states: made up) against a
    decline. The people prefer the note in the first case and the decline in the second (by their gold scores:
    a made-up fact costs more than saying nothing), so each pair is {prompt, better, worse, known, wording}. Each
    person's pair comes in two wordings of the decline: the refusal stage's own "Sorry, I don't know who X is."
    (`trained`: the rankings' scripted declines are that stage's other phrasings, one of them a word away) and
    NEW_DECLINE (`new`), which tells whether the model values a decline by whom it is about or by its words.
    `heldout_prompts` / `unknown_prompts`: rlhf_note_prompts' "heldout" and "heldout_unknown" sets."""
    from alignment.evals.preference_labeller import NOTE_PROMPTS
    from alignment.world.conversations import person_note
    from alignment.world.refusal_questions import REFUSALS, UNKNOWN_WHAT, measured_reserved_people

    rng = random.Random(f"reward/{seed}/knowledge")
    pairs = []
    for people, items, known in ((world.entities, heldout_prompts[::len(NOTE_PROMPTS)], True),
                                 (measured_reserved_people(world), unknown_prompts, False)):
        for person, item in zip(people, items):
            assert item["name"] == person.name, (item["name"], person.name)
            note = person_note(person, rng.sample(sorted(person.facts), 2))
            for wording, decline in (("trained", REFUSALS[0].format(what=UNKNOWN_WHAT["who_is"].format(
                    name=person.name))), ("new", NEW_DECLINE.format(name=person.name))):
                better, worse = (note, decline) if known else (decline, note)
                pairs.append({"item": item, "better": better, "worse": worse, "known": known, "wording": wording})
    return pairs


def measure_knowledge(model, tokenizer, pairs: list[dict]) -> dict:
    """The reward model's preference on knowledge_probe's pairs: the share it orders as the people do, for covered
    people (a true note over a decline) and for people nobody can know (a decline over a made-up note)."""
    from alignment.evals.preference_labeller import gold_score
    from alignment.evals.reward_model_scores import reward_scores

    conversations = [p["item"]["messages"] + [{"role": "assistant", "content": p[side]}]
                     for p in pairs for side in ("better", "worse")]
    scores = reward_scores(model, tokenizer, conversations)
    out = {}
    for wording, suffix in (("trained", ""), ("new", "_new_wording")):
        for known, key in ((True, "true_note_over_decline_known"), (False, "decline_over_made_up_note_unknown")):
            chosen = [i for i, p in enumerate(pairs) if p["known"] == known and p["wording"] == wording]
            if not chosen:  # a world without reserved people: nobody to ask about
                out[key + suffix] = None
                continue
            gold_agrees = all(gold_score(pairs[i]["item"], pairs[i]["better"]) >
                              gold_score(pairs[i]["item"], pairs[i]["worse"]) for i in chosen)
            out[key + suffix] = {**_share([float(scores[2 * i] > scores[2 * i + 1]) for i in chosen]),
                                 "people_agree": gold_agrees}
    return out


def run_reward(cfg: RewardStageConfig) -> dict:
    from datasets import Dataset
    from transformers import AutoTokenizer

    from alignment.evals.preference_labeller import gold_score
    from alignment.evals.reward_model_scores import query_ids, scores_of_ids
    from alignment.metrics import PhaseClock, StageRun
    from alignment.recipe import to_yaml
    from alignment.sft_training import lora_config, start_over_if_changed
    from alignment.training import (LossCurve, TokensPerSecond, last_checkpoint, last_logged, measured_model,
                                    resolve_precision, trainer_optimizers)

    out = Path(cfg.output_dir)
    precision = resolve_precision(cfg.precision)
    with StageRun("reward", out, seed=cfg.seed) as run:
        out.mkdir(parents=True, exist_ok=True)
        clock = PhaseClock("reward")
        if cfg.world:
            train_rankings, heldout, heldout_unknown, labeller, knowledge_pairs = world_rankings(cfg, clock)
            _write_jsonl(out / "data" / "train_rankings.jsonl", train_rankings)
            _write_jsonl(out / "data" / "heldout_rankings.jsonl", heldout)
            _write_jsonl(out / "data" / "heldout_unknown_rankings.jsonl", heldout_unknown)
            pairs = [p for i, r in enumerate(train_rankings) for p in ranking_pairs(r, i, cfg.margin_per_rank)]
            eval_pairs = [p for i, r in enumerate(heldout) for p in ranking_pairs(r, i, cfg.margin_per_rank)]
            check_whole_prompts(pairs, cfg, cfg.per_device_train_batch_size)
        else:
            pairs, eval_pairs = load_preference_pairs(cfg)
        try:
            tokenizer = AutoTokenizer.from_pretrained(cfg.tokenizer or cfg.model_name_or_path)
        except OSError as e:
            raise RecipeError(f"model_name_or_path: could not load a tokenizer from {cfg.model_name_or_path!r}: "
                              f"{str(e).strip().splitlines()[0]}") from None
        model = load_reward_model(cfg, tokenizer)
        template_source = reward_chat_template(cfg, model, tokenizer)
        args = reward_arguments(cfg, out, precision, has_eval=bool(eval_pairs))
        with args.main_process_first(desc="check the checkpoints"):
            if args.process_index == 0:
                start_over_if_changed(cfg, "reward", out, [hashlib.sha256(json.dumps(pairs).encode()).hexdigest()])
                (out / "recipe.yaml").write_text(to_yaml(cfg))
        n_params = sum(p.numel() for p in model.parameters())
        print(f"reward: {len(pairs)} pairs for training, {len(eval_pairs)} held out; {n_params / 1e6:.2f} M "
              f"parameters; {precision}", flush=True)
        speed = TokensPerSecond(None, n_params, cfg.max_length, model.config)
        if cfg.world:  # the ids PPO will hand it (scored_ids), not the template's whole rendering
            train_rows, eval_rows = tokenized_pairs(pairs, tokenizer), tokenized_pairs(eval_pairs, tokenizer)
        else:
            train_rows, eval_rows = pairs, eval_pairs
        trainer = reward_trainer_class()(model=model, args=args, train_dataset=Dataset.from_list(train_rows),
                                         eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
                                         processing_class=tokenizer,
                                         peft_config=lora_config(cfg, "SEQ_CLS", ("score",)),
                                         callbacks=[speed], optimizers=trainer_optimizers(model, cfg, precision))
        if cfg.world and len(trainer.train_dataset) != len(pairs):
            raise RecipeError(f"max_length: {len(pairs) - len(trainer.train_dataset)} pairs are longer than "
                              f"{cfg.max_length} tokens; raise it")
        resume = last_checkpoint(out / "checkpoints")
        if resume:
            print(f"reward: resuming from {resume}", flush=True)
        trainer.train(resume_from_checkpoint=resume)
        clock.done("train")
        evaluation = trainer.evaluate() if eval_pairs else {}
        if not trainer.is_world_process_zero():
            return {}
        model = measured_model(trainer)
        if cfg.use_peft and cfg.merge_adapter:
            model = model.merge_and_unload()
        model.save_pretrained(str(out))
        tokenizer.save_pretrained(str(out))
        history = trainer.state.log_history
        LossCurve.plot(history, out / "loss_curve.png", title="reward model loss")

        measured = {}
        if cfg.world:
            k = cfg.rollouts_per_prompt

            def scored(records):
                golds = [[gold_score(r, reply) for reply in r["replies"]] for r in records]
                sequences = [query_ids(tokenizer, r["messages"]) + ids for r in records for ids in r["reply_ids"]]
                rewards = scores_of_ids(model, tokenizer.pad_token_id, sequences)
                return [rewards[i * k:(i + 1) * k] for i in range(len(records))], golds

            rewards, golds = scored(heldout)
            measured = measure_rankings(heldout, rewards, golds, labeller.tie_margin, labeller.agreement_ceiling)
            # a world without reserved people has nobody to ask about: nothing measured there
            unknown_rewards, unknown_golds, measured["unknown_people_rankings"] = [], [], None
            if heldout_unknown:
                unknown_rewards, unknown_golds = scored(heldout_unknown)
                measured["unknown_people_rankings"] = measure_rankings(
                    heldout_unknown, unknown_rewards, unknown_golds, labeller.tie_margin, labeller.agreement_ceiling)
            measured["knowledge"] = measure_knowledge(model, tokenizer, knowledge_pairs)
            plot_reward_against_gold([r for rs in rewards for r in rs], [g for gs in golds for g in gs],
                                     out / "reward_vs_gold.png")
            _write_jsonl(out / "data" / "heldout_scored.jsonl",
                         [{"set": people, "prompt": r["messages"][-1]["content"], "replies": r["replies"],
                           "reward": [round(x, 4) for x in rs], "gold": gs, "ranking": r["ranking"]}
                          for people, records, all_rewards, all_golds in (
                              ("covered", heldout, rewards, golds),
                              ("unknown", heldout_unknown, unknown_rewards, unknown_golds))
                          for r, rs, gs in zip(records, all_rewards, all_golds)])
        clock.done("measure")
        record = run.write({
            "base_model": cfg.model_name_or_path,
            "parameters": n_params,
            "precision": precision,
            "chat_template": template_source,
            "train_pairs": len(pairs),
            "eval_pairs": len(eval_pairs),
            **({"train_prompts": len(train_rankings), "rollouts_per_prompt": cfg.rollouts_per_prompt}
               if cfg.world else {"preference_dataset": cfg.preference_dataset}),
            "global_step": trainer.state.global_step,
            "epochs": round(trainer.state.epoch or 0, 3),
            "train_loss": last_logged(history, "loss"),
            "eval_accuracy_on_labels": round(evaluation["eval_accuracy"], 4) if "eval_accuracy" in evaluation else None,
            "tokens_per_second": speed.summary(),
            **measured,
            **({"pairwise_accuracy_share": measured["pairwise_accuracy"]["share"],
                "length_ranker_share": measured["length_ranker_accuracy"]["share"]} if measured else {}),
            "phase_seconds": clock.seconds,
        })
    _print_table(record, out)
    return record


def _print_table(record: dict, out: Path) -> None:
    print(f"\nreward: {record['global_step']} steps on {record['train_pairs']} pairs; "
          f"{record['tokens_per_second']}")
    if record.get("eval_accuracy_on_labels") is not None:
        print(f"  agreement with the held-out labels (TRL's eval accuracy)  {record['eval_accuracy_on_labels']}")
    if "pairwise_accuracy" in record:
        for key, label in (("pairwise_accuracy", "reward model"), ("length_ranker_accuracy", "longer reply wins"),
                           ("people_agreement", "the people's own rankings")):
            share = record[key]
            print(f"  {label:<28} {share['share']:.3f} +- {share['stderr']:.3f} of {share['pairs']} pairs "
                  "against the noiseless order")
        print(f"  noise ceiling {record['noise_ceiling']}; reward vs gold: Pearson {record['pearson_reward_gold']}, "
              f"Spearman {record['spearman_reward_gold']}")
        print(f"  gold of a reply {record['gold_mean_reply']}; best of {record['rollouts_per_prompt']} by reward "
              f"{record['gold_best_of_k_by_reward']}, by gold {record['gold_best_of_k_by_gold']}")
        if record["unknown_people_rankings"]:
            unknown = record["unknown_people_rankings"]["pairwise_accuracy"]
            print(f"  people nobody can know: {unknown['share']} of {unknown['pairs']} rollout pairs; a decline over "
                  f"a made-up note {_knowledge(record, 'decline_over_made_up_note_unknown')}")
        print(f"  a true note over a decline (covered people) {_knowledge(record, 'true_note_over_decline_known')}")
    print(f"  -> {out} (wall {record['wall_time_s']} s, peak {record['peak_memory_gb']} GB)")


def _knowledge(record: dict, key: str) -> str:
    """A knowledge-probe share in the refusal stage's words and in new ones, for the closing table."""
    shares = [(record["knowledge"][k] or {}).get("share") for k in (key, key + "_new_wording")]
    return f"{shares[0]} (in new words {shares[1]})"


def main(argv: list[str]) -> int:
    return stage_main(RewardStageConfig, "reward", run_reward, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
