"""Where a GRPO step's time goes in `alignment grpo`: generation, rewards, the rest of scoring, forward and backward,
and the optimizer, with generation tokens/s.

    python benchmarks/grpo.py [--config recipes/tiny/grpo.yaml] [--model runs/tiny/tool_use] [--steps 4]
                              [--precision auto] [--problems FILE] [-- extra recipe fields]

The stage's own trainer (alignment/grpo.py: the recipe's GRPOConfig, rewards, optimizer and tokenizer settings) runs
`--steps` optimizer steps, with no measurements before or after, and its methods are timed where TRL splits the work:
`_generate` (sampling every solution of the step; with tools, the calling loop too), `_calculate_rewards`, the rest
of `_prepare_inputs` (the old policy's log-probabilities where TRL needs them, advantages, splitting the batch),
`training_step` less its `_prepare_inputs` (the forward and backward passes), and the rest of the step (optimizer,
scheduler, logging). The first step is printed but left out of the medians (first calls allocate and warm caches).
Generation tokens/s counts completion tokens, every solution's, over the time of `_generate`.
The figures are this machine's: name the CPU (lscpu) or GPU beside them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(trainer, name: str, seconds: dict, after=None) -> None:
    """Wrap trainer.<name> so that each call adds its wall time to seconds[name] (and calls after(result))."""
    original = getattr(trainer, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = original(*args, **kwargs)
        seconds[name] += time.perf_counter() - start
        if after is not None:
            after(result)
        return result

    setattr(trainer, name, wrapper)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="recipes/tiny/grpo.yaml")
    parser.add_argument("--model", default=None, help="the input model (default: the recipe's)")
    parser.add_argument("--problems", default=None, help="the problems file (default: the recipe's)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("extra", nargs="*", help="more recipe fields, after --: --num_generations 4 ...")
    options = parser.parse_args()

    import torch
    from transformers import TrainerCallback

    from alignment.grpo import GRPOStageConfig, build_grpo_trainer, grpo_arguments, load_problems, use_tools
    from alignment.recipe import parse_recipe
    from alignment.sft_training import prepare_model
    from alignment.training import resolve_precision

    out = Path(tempfile.mkdtemp(prefix="grpo_bench_"))
    argv = ["--config", options.config, "--output_dir", str(out), "--max_steps", str(options.steps),
            "--save_steps", "100000", "--logging_steps", "1", "--report_to", "[]", "--precision", options.precision]
    argv += ["--model_name_or_path", options.model] if options.model else []
    argv += ["--problems", options.problems] if options.problems else []
    parsed = parse_recipe(GRPOStageConfig, argv + options.extra)
    cfg = parsed[0] if isinstance(parsed, tuple) else parsed
    precision = resolve_precision(cfg.precision)
    import datasets

    train = datasets.Dataset.from_list(load_problems(cfg.problems, cfg, cfg.max_problems))
    use_tools(cfg)
    model, tokenizer, chat, stops = prepare_model(cfg, precision)
    args = grpo_arguments(cfg, out, precision)
    torch.manual_seed(cfg.seed)
    trainer, _, _ = build_grpo_trainer(cfg, args, model, tokenizer, chat, stops, train, precision)

    seconds: dict[str, float] = defaultdict(float)
    generated = {"tokens": 0}

    def count_tokens(result):
        generated["tokens"] += sum(len(ids) for ids in result[1])  # (prompt_ids, completion_ids, ...)

    for name in ("_generate", "_calculate_rewards", "_prepare_inputs", "training_step"):
        timed(trainer, name, seconds, count_tokens if name == "_generate" else None)

    steps: list[dict] = []

    class StepSplit(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            seconds.clear()
            generated["tokens"] = 0
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            # Trainer.training_step calls _prepare_inputs (GRPO's: generate and score, then split the batch) first
            total = time.perf_counter() - self.start
            steps.append({
                "step": total,
                "generation": seconds["_generate"],
                "rewards": seconds["_calculate_rewards"],
                "other scoring": seconds["_prepare_inputs"] - seconds["_generate"] - seconds["_calculate_rewards"],
                "forward + backward": seconds["training_step"] - seconds["_prepare_inputs"],
                "optimizer + rest": total - seconds["training_step"],
                "tokens": generated["tokens"],
            })

    trainer.add_callback(StepSplit())
    trainer.train()

    parts = ["generation", "rewards", "other scoring", "forward + backward", "optimizer + rest"]
    print(f"\ngrpo benchmark: {cfg.model_name_or_path}, {precision}, {args.num_generations} solutions per problem, "
          f"{args.per_device_train_batch_size * args.gradient_accumulation_steps} solutions a step, "
          f"completions of up to {args.max_completion_length} tokens, {torch.get_num_threads()} threads")
    print(f"  {'step':>4} {'total s':>8} " + " ".join(f"{p:>18}" for p in parts) + f" {'gen tokens':>10} {'gen tok/s':>9}")
    for number, s in enumerate(steps, 1):
        print(f"  {number:>4} {s['step']:>8.2f} " + " ".join(f"{s[p]:>18.2f}" for p in parts)
              + f" {s['tokens']:>10} {s['tokens'] / max(s['generation'], 1e-9):>9.0f}")
    measured = steps[1:] or steps
    median = {p: statistics.median(s[p] for s in measured) for p in ["step", *parts]}
    tokens_per_second = statistics.median(s["tokens"] / max(s["generation"], 1e-9) for s in measured)
    print(f"  median of steps {2 if len(steps) > 1 else 1}-{len(steps)}: {median['step']:.2f} s a step; "
          + ", ".join(f"{p} {median[p]:.2f} s ({median[p] / median['step']:.0%})" for p in parts)
          + f"; generation {tokens_per_second:.0f} tokens/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
