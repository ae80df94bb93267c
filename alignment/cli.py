"""`alignment <stage> --config RECIPE.yaml [--field value ...]`: the command line of every stage.

Stages are imported only when asked for: `import trl` alone takes ~5 s, so `--help` and recipe
errors stay instant.
"""

from __future__ import annotations

import importlib
import sys

from alignment.recipe import RecipeError

# stage name -> (module with a `main(argv)`, one-line description)
STAGES = {
    "corpus": ("alignment.corpus", "web crawl (WARC/JSONL/Parquet) -> clean, deduplicated pretraining text (datatrove)"),
    "tokenizer": ("alignment.tokenizer", "byte-level BPE trained on the corpus, with the chat format's special tokens"),
    "pretrain": ("alignment.pretrain", "a Transformer learns next-token prediction on the corpus (transformers)"),
    "sft": ("alignment.sft", "supervised fine-tuning on conversations: base model -> assistant (TRL SFTTrainer)"),
    "refusals": ("alignment.refusals", "the assistant learns what it does not know: probe, refusals, SFT (TRL)"),
    "tool_use": ("alignment.tool_use", "the assistant learns to search and to run Python: real tool results, SFT (TRL)"),
    "grpo": ("alignment.grpo", "RL on problems with verifiable answers: sampled solutions, rewards, GRPO (TRL)"),
    "reward": ("alignment.reward", "a reward model learns people's rankings of the policy's rollouts (TRL RewardTrainer)"),
    "ppo": ("alignment.ppo", "RL against the reward model, guarded by a KL penalty and the people's audits (TRL PPO)"),
    "eval": ("alignment.eval", "every model of a pipeline on every held-out suite, one table (measured once, reused)"),
    "arena": ("alignment.arena", "the assistants in pairwise battles judged by the tiny world's people: Bradley-Terry ratings"),
    "tool": ("alignment.tools.cli", "call a tool by hand (python in the sandbox): what the model would read back"),
    "sample": ("alignment.sample", "base-model inference, one token at a time (--explain shows the candidates)"),
    "chat": ("alignment.chat", "talk to an assistant in the terminal (--message for one reply)"),
    "quiz": ("alignment.quiz", "the same questions to several assistants, each reply marked against the tiny world"),
    "report": ("alignment.report", "report.md + a self-contained report.html of a pipeline's stages, plots inlined"),
    "serve": ("alignment.serve", "an OpenAI-compatible API for a model dir (/v1/chat/completions, /v1/models)"),
    "export": ("alignment.export", "a model dir as a GGUF file for llama.cpp and LM Studio (f16 or q8_0)"),
    "run": ("alignment.pipeline", "every stage of a pipeline recipe in order; finished stages are skipped"),
}

USAGE = "usage: alignment <stage> --config RECIPE.yaml [--field value ...]\n\nstages:\n" + "\n".join(
    f"  {name:<10} {about}" for name, (_, about) in STAGES.items()
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    stage, rest = argv[0], argv[1:]
    if stage not in STAGES:
        print(f"alignment: error: unknown stage '{stage}' (stages: {', '.join(STAGES)})", file=sys.stderr)
        return 2
    module = importlib.import_module(STAGES[stage][0])
    try:
        return module.main(rest) or 0
    except RecipeError as e:
        print(f"alignment {stage}: error: {e}", file=sys.stderr)
        return 2
