"""Training speed of `alignment sft`'s loop (TRL's SFTTrainer with the stage's own settings: packed rows, assistant-only
loss, the recipe's optimizer) against a plain PyTorch loop on the same kind of batches, model and optimizer.

    python benchmarks/sft.py [--model runs/tiny/pretrain] [--steps 30] [--rounds 3] [--precisions fp32 bf16]

One process: the two loops take turns step by step inside one training run (these machines' speed drifts), `--rounds`
times per precision. Each loop's speed is its median step time and the median real (non-padding) tokens of a batch;
we print tokens/s of each, the median ratio ours / plain (target >= 0.95, i.e. <= 5% overhead) and the training
FLOP/s as a share of this machine's measured matmul peak (benchmarks/pretrain.py measures it the same way).
The plain loop gets its batches from a second dataloader over the same prepared dataset and collator, so both see
packed rows of the same shape; it skips what SFTTrainer adds per step (entropy and token accuracy of the batch,
token counting), which is the overhead measured here.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build_trainer(cfg, out: Path, precision: str, steps: int):
    """The stage's trainer, built as run_sft builds it (data, chat template, TRL config, trainer class, optimizer)."""
    import torch

    from alignment.chat_setup import prepare_chat
    from alignment.training import trainer_optimizers
    from alignment.sft import training_data
    from alignment.sft_training import load_model, trainer_class, training_template_file, trl_config

    train, _, _, _, _ = training_data(cfg, out)
    model, tokenizer = load_model(cfg, precision)
    chat = prepare_chat(model, tokenizer, cfg.model_name_or_path, cfg.chat_template)
    template = training_template_file(chat, out)
    cfg.max_steps, cfg.logging_steps, cfg.save_steps, cfg.eval_steps = steps + 1, 10**9, 10**9, 10**9
    args = trl_config(cfg, out, precision, template, has_eval=False)
    args.save_strategy, args.disable_tqdm = "no", True
    plain_model = copy.deepcopy(model)

    def optimizer_for(m):  # the same for both loops: the recipe's Muon, else plain AdamW
        muon, _ = trainer_optimizers(m, cfg, precision)
        return muon or torch.optim.AdamW(m.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)

    trainer = trainer_class(cfg, model)(model=model, args=args, train_dataset=train, processing_class=tokenizer,
                                        optimizers=(optimizer_for(model), None))
    return trainer, plain_model, optimizer_for(plain_model)


class PlainLoop:
    def __init__(self, trainer, model, optimizer, precision: str, max_grad_norm: float):
        self.model, self.optimizer, self.precision, self.max_grad_norm = model, optimizer, precision, max_grad_norm
        self.model.train()
        self.batches = iter(trainer.get_train_dataloader())  # a second dataloader: same data, collator, batch size
        self.tokens: list[int] = []

    def step(self) -> None:
        import torch

        batch = next(self.batches)
        mask = batch.pop("attention_mask", None)
        self.tokens.append(int(mask.sum()) if mask is not None else batch["input_ids"].numel())
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            loss = self.model(**{k: v for k, v in batch.items() if k in ("input_ids", "labels", "position_ids")},
                              use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


def interleaved_round(cfg, precision: str, steps: int) -> tuple[list[float], list[float], list[int]]:
    """Seconds of each of `steps` optimizer steps of the stage's trainer and of the plain loop, taken in turns (the
    plain step runs inside the trainer's on_step_end), and the real tokens of the plain loop's batches."""
    from transformers import TrainerCallback

    ours, plain_seconds = [], []
    with tempfile.TemporaryDirectory() as out:
        trainer, plain_model, plain_optimizer = build_trainer(copy.deepcopy(cfg), Path(out), precision, steps)
        plain = PlainLoop(trainer, plain_model, plain_optimizer, precision, cfg.max_grad_norm)

        class TakeTurns(TrainerCallback):
            resumed = None

            def on_step_end(self, args, state, control, **kwargs):
                now = time.perf_counter()
                if self.resumed is not None:  # the trainer's first step is start-up: not timed
                    ours.append(now - self.resumed)
                plain.step()
                if self.resumed is not None:
                    plain_seconds.append(time.perf_counter() - now)
                self.resumed = time.perf_counter()

        trainer.add_callback(TakeTurns())
        trainer.train()
    return ours, plain_seconds, plain.tokens


def main() -> None:
    import torch

    from alignment.recipe import parse_recipe
    from alignment.sft import SFTConfig
    from alignment.training import flops_per_token
    from benchmarks.pretrain import measured_peaks, native_precisions

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="runs/tiny/pretrain", help="base model dir (the pretrain stage's)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precisions", nargs="+", choices=["fp32", "bf16"],
                        help="default: fp32, and bf16 where it is native")
    args = parser.parse_args()
    args.precisions = native_precisions(args.precisions)
    if not Path(args.model).is_dir():
        sys.exit(f"--model: {args.model} not found (run `alignment run recipes/tiny/pipeline.yaml --until pretrain`)")

    # the recipe read as the stage reads it (its trainer fields go to trainer_args), reporting nowhere: its trackio
    # run would otherwise be the pipeline's own "sft" run, resumed
    cfg = parse_recipe(SFTConfig, ["--config", str(ROOT / "recipes" / "tiny" / "sft.yaml"),
                                   "--model_name_or_path", args.model, "--report_to", "none"])
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(args.model)
    config, n_params = base.config, sum(p.numel() for p in base.parameters())
    del base
    per_token = flops_per_token(n_params, config, cfg.max_length)
    print(f"{torch.get_num_threads()} threads; {args.model}: {n_params / 1e6:.2f} M parameters; packed rows of "
          f"{cfg.max_length}, batch {cfg.per_device_train_batch_size}, {'Muon' if cfg.muon else 'AdamW'}; "
          f"{args.steps} timed steps per loop")
    peaks = measured_peaks(args.precisions)
    for precision in args.precisions:
        rates = {"ours": [], "plain": []}
        for round_ in range(args.rounds):
            ours_steps, plain_steps, tokens = interleaved_round(cfg, precision, args.steps)
            per_step = statistics.median(tokens)
            for name, steps in (("ours", ours_steps), ("plain", plain_steps)):
                seconds = statistics.median(steps)
                rates[name].append(per_step / seconds)
                print(f"  {precision} round {round_} {name:<5} {per_step / seconds:8.0f} tokens/s (median step "
                      f"{seconds * 1e3:.0f} ms, {per_step:.0f} real tokens a batch)", flush=True)
        ratios = [o / p for o, p in zip(rates["ours"], rates["plain"])]
        ours = statistics.median(rates["ours"])
        achieved = ours * per_token
        print(f"{precision}: ours {ours:.0f} tokens/s, plain {statistics.median(rates['plain']):.0f} tokens/s, median "
              f"ratio ours/plain {statistics.median(ratios):.3f} (target >= 0.95); training {achieved / 1e9:.1f} "
              f"GFLOP/s = {achieved / peaks[precision]:.1%} of the measured {precision} matmul peak", flush=True)


if __name__ == "__main__":
    main()
