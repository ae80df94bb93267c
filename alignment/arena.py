"""`alignment arena`: the pipeline's assistants in pairwise battles, ranked as LM Arena ranks models.

    alignment arena --config recipes/tiny/arena.yaml

1. Prompts: open-ended ones no stage trained on, "Write a short note about <person>." for each person the corpus
   covers (alignment/evals/preference_labeller.py: note_prompts), one seeded phrasing each.
2. Replies: each model's greedy reply to every prompt (no tools offered), or the same replies that the eval stage
   wrote for its gold-preference suite (`replies_from`: same prompts, budget, model files and code).
3. Battles: for every prompt, every pair of models, the two replies in a random order, judged by the tiny world's
   labeller with its human-like noise (its lapses and ties: the noise model in preference_labeller.py). A real
   model's arena would be judged by people, a reward model or a judge model; here the labeller stands for people.
4. The leaderboard: Bradley-Terry ratings with bootstrap 95% intervals and ranks (alignment/evals/bradley_terry.py),
   each model's wins, and its mean gold score with its standard error (what the battles stand for, measured without
   noise). metrics.json, arena.md, and the table printed.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

from alignment.recipe import RecipeError, stage_main


@dataclass
class ArenaConfig:
    """The models, the prompts, the judge and the bootstrap."""

    output_dir: str = field(default="runs/tiny/arena", metadata={"help": "Where metrics.json and arena.md go."})
    models: dict = field(default_factory=dict, metadata={
        "help": "The assistants, {name: model dir or hub id}: at least two."})
    world: dict | None = field(default=None, metadata={
        "help": "The tiny world ({seed, n_entities, n_reserved}): its covered people are the prompts' subjects."})
    seed: int = field(default=0, metadata={"help": "Seeds the prompts' phrasings, the battle order and the judge."})
    max_new_tokens: int = field(default=64, metadata={"help": "Reply budget of each note."})
    lapse: float = field(default=0.2, metadata={
        "help": "The judge's share of random picks (its noise; agreement ceiling 1 - lapse / 2)."})
    bootstrap_rounds: int = field(default=200, metadata={"help": "Resamplings of the battles for the intervals."})
    replies_from: str | None = field(default=None, metadata={
        "help": "An eval stage's output dir: a model's notes that it wrote for its gold-preference suite (the same "
                "prompts, budget, model files and code) are taken from there instead of being generated again."})

    def __post_init__(self):
        if not isinstance(self.models, dict) or len(self.models) < 2:
            raise RecipeError("models: expected {name: model dir or hub id, ...}, at least two to battle")
        if not self.world:
            raise RecipeError("world: the prompts and the judge come from the tiny world ({seed, n_entities, "
                              "n_reserved})")
        if not 0.0 <= self.lapse <= 1.0:
            raise RecipeError(f"lapse: expected a share from 0 to 1, got {self.lapse}")


def replies_of(model_dir: str, prompts: list[dict], max_new_tokens: int) -> list[str]:
    """The model's greedy notes, as the eval stage's gold-preference suite writes them."""
    from alignment.evals.assistant_probes import load_model_dir
    from alignment.evals.preference_labeller import gold_of_notes

    model, tokenizer, stops = load_model_dir(model_dir)
    return gold_of_notes(model, tokenizer, stops, prompts, max_new_tokens)["replies"]


def reused_replies(cfg: ArenaConfig, model: str, prompts: list[dict]) -> list[str] | None:
    """The notes the eval stage wrote for this model's gold-preference cell, where they are the same measurement."""
    if not cfg.replies_from:
        return None
    from alignment.evals.measurements import find_result, notes_key

    found = find_result([Path(cfg.replies_from) / "metrics.json"], "gold_preference",
                        notes_key(prompts, cfg.max_new_tokens), model)
    return found.get("replies") if found and len(found.get("replies") or []) == len(prompts) else None


def battles_of(prompts: list[dict], replies: dict[str, list[str]], labeller, seed: int) -> list[dict]:
    """Every pair of models on every prompt, shown in a random order: {prompt, a, b, winner}."""
    names = list(replies)
    order = random.Random(f"arena/{seed}/order")
    battles = []
    for index, item in enumerate(prompts):
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                a, b = (names[i], names[j]) if order.random() < 0.5 else (names[j], names[i])
                picked = labeller.prefer(item, replies[a][index], replies[b][index])
                battles.append({"prompt": index, "a": a, "b": b, "winner": (a, b)[picked]})
    return battles


def leaderboard(names: list[str], battles: list[dict], gold: dict[str, list[float]], rounds: int,
                seed: int) -> list[dict]:
    from alignment.evals.bradley_terry import bootstrap, fit, ranks
    from alignment.evals.measurements import mean_and_stderr

    index = {name: i for i, name in enumerate(names)}
    outcomes = [(index[b["a"]], index[b["b"]], 1.0 if b["winner"] == b["a"] else 0.0) for b in battles]
    ratings = fit(outcomes, len(names))
    intervals = bootstrap(outcomes, len(names), rounds, seed)
    rows = []
    for name, rating, interval, rank in zip(names, ratings, intervals, ranks(intervals)):
        played = [b for b in battles if name in (b["a"], b["b"])]
        mean, error = mean_and_stderr(gold[name])
        rows.append({"model": name, "rank": rank, "rating": round(rating, 1),
                     "interval_95": [round(interval[0], 1), round(interval[1], 1)],
                     "battles": len(played), "wins": sum(b["winner"] == name for b in played),
                     "gold_mean": mean, "gold_stderr": error})
    return sorted(rows, key=lambda r: -r["rating"])


def run_arena(cfg: ArenaConfig) -> dict:
    from alignment.evals.preference_labeller import Labeller, gold_score, note_prompts
    from alignment.metrics import StageRun
    from alignment.recipe import to_yaml
    from alignment.world.people import build_world

    out = Path(cfg.output_dir)
    with StageRun("arena", out, seed=cfg.seed) as run:
        out.mkdir(parents=True, exist_ok=True)
        (out / "recipe.yaml").write_text(to_yaml(cfg))
        prompts = note_prompts(build_world(**cfg.world), cfg.seed)
        replies, reused = {}, []
        for name, model in cfg.models.items():
            found = reused_replies(cfg, model, prompts)
            if found is not None:
                replies[name] = found
                reused.append(name)
                continue
            print(f"arena: {name}: {len(prompts)} notes", flush=True)
            replies[name] = replies_of(model, prompts, cfg.max_new_tokens)
        labeller = Labeller(lapse=cfg.lapse, seed=cfg.seed)
        battles = battles_of(prompts, replies, labeller, cfg.seed)
        gold = {name: [gold_score(p, r) for p, r in zip(prompts, texts)] for name, texts in replies.items()}
        board = leaderboard(list(cfg.models), battles, gold, cfg.bootstrap_rounds, cfg.seed)
        with (out / "battles.jsonl").open("w", encoding="utf-8") as f:
            for b in battles:
                f.write(json.dumps({**b, "question": prompts[b["prompt"]]["messages"][-1]["content"],
                                    "reply_a": replies[b["a"]][b["prompt"]],
                                    "reply_b": replies[b["b"]][b["prompt"]]}, ensure_ascii=False) + "\n")
        record = run.write({
            "models": cfg.models,
            "prompts": len(prompts),
            "replies_reused_from_eval": reused,
            "battles": len(battles),
            "judge": {"kind": "the tiny world's labeller", "lapse": cfg.lapse, "tie_margin": labeller.tie_margin,
                      "agreement_ceiling": labeller.agreement_ceiling},
            "leaderboard": board,
            "top_model": board[0]["model"],
            "examples": [{"question": prompts[i]["messages"][-1]["content"],
                          **{name: replies[name][i] for name in replies}} for i in range(min(3, len(prompts)))],
        })
        (out / "arena.md").write_text(to_markdown(record) + "\n")
    print("\n" + to_markdown(record))
    print(f"\narena: {record['battles']} battles on {record['prompts']} prompts -> {out / 'arena.md'} "
          f"(wall {record['wall_time_s']} s)")
    return record


def to_markdown(metrics: dict) -> str:
    lines = ["| rank | model | rating (95% interval) | battles | wins | gold score |", "|---|---|---|---|---|---|"]
    for row in metrics["leaderboard"]:
        low, high = row["interval_95"]
        lines.append(f"| {row['rank']} | {row['model']} | {row['rating']:.0f} ({low:.0f} to {high:.0f}) | "
                     f"{row['battles']} | {row['wins']} | {row['gold_mean']:.3f} ± {row['gold_stderr']:.3f} |")
    judge = metrics["judge"]
    lines += ["", f"{metrics['battles']} battles on {metrics['prompts']} prompts, judged by {judge['kind']} "
                  f"(random picks in {judge['lapse']:.0%} of battles: at most {judge['agreement_ceiling']:.0%} "
                  "agreement with the gold order). Ratings: Bradley-Terry, scale 400, mean 1000, with bootstrap 95% "
                  "intervals; a model's rank is 1 + the number of models whose interval lies wholly above its own."]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    return stage_main(ArenaConfig, "arena", run_arena, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
