"""What every trainer stage shares: the precision a run trains in (and whether the hardware has bf16), the
TrainingArguments fields common to every stage's recipe, the optimizer a recipe asks for (Muon + AdamW or the
Trainer's own AdamW); and what a training run shows while it runs: tokens/s (and MFU on GPUs), sampled
continuations at each evaluation, a loss-curve PNG at the end; and where a killed run picks up again."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

# --- precision, hardware and the optimizer ------------------------------------------------------

def cpu_has_native_bf16() -> bool:
    """avx512_bf16 or AMX: bf16 matmuls run ~4x faster than fp32 there (850 vs 200 GFLOP/s measured)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def hardware_has_bf16() -> bool:
    """A GPU, or a CPU with avx512_bf16/AMX: bf16 runs natively (elsewhere torch emulates it, ~100x slower)."""
    import torch

    return torch.cuda.is_available() or cpu_has_native_bf16()


def native_bf16_run(precision: str) -> bool:
    """A bf16 run on hardware that has bf16 natively."""
    return precision == "bf16" and hardware_has_bf16()


def trainer_optimizers(model, cfg, precision: str) -> tuple:
    """The Trainer's `optimizers` for a stage's recipe: Muon + AdamW with `muon: true` (alignment/muon.py, the
    Newton-Schulz iteration in bf16 only in a native bf16 run), else (None, None): the Trainer's own AdamW."""
    if not cfg.muon:
        return None, None
    from alignment.muon import muon_optimizer

    return muon_optimizer(model, cfg.learning_rate, cfg.weight_decay, native_bf16_run(precision),
                          ns_steps=cfg.muon_ns_steps), None


def resolve_precision(choice: str) -> str:
    """An explicit recipe value wins (with a warning where bf16 would be emulated); auto follows the hardware."""
    import torch

    if choice == "bf16" and not hardware_has_bf16():
        print("warning: precision: bf16 on a CPU without native bf16 (no avx512_bf16 / amx_bf16): torch emulates it, "
              "~100x slower than fp32 (0.7 vs 66 GFLOP/s for a 1024x1024 matmul on an AVX2-only EPYC); "
              "precision: auto picks fp32 here", file=sys.stderr, flush=True)
    if choice != "auto":
        return choice

    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_native_bf16() else "fp32"


# --- what every trainer stage's recipe sets ----------------------------------------------------

def trainer_settings(cfg, out: Path, precision: str) -> dict:
    """The TrainingArguments every training stage shares, from the recipe fields they all have (pretrain, sft)."""
    import torch

    return dict(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        warmup_steps=cfg.warmup_ratio,  # a float in [0, 1) is a share of the total steps (transformers 5)
        lr_scheduler_type=cfg.lr_scheduler_type,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        bf16=precision == "bf16",
        # on a CPU-only machine: the CPU device, and a real gloo group when accelerate starts 2 processes
        use_cpu=not torch.cuda.is_available(),
        logging_steps=cfg.logging_steps,
        eval_steps=cfg.eval_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        seed=cfg.seed,
        report_to=[],
    )


# Trainer fields that only say where a run is reported: changing them must not throw a run's checkpoints away
REPORTING_FIELDS = {"report_to", "project", "run_name", "trackio_space_id", "trackio_bucket_id",
                    "trackio_static_space_id", "logging_dir", "logging_first_step", "logging_strategy", "disable_tqdm"}


def what_is_trained(recipe: dict) -> dict:
    """A resolved recipe (as to_yaml writes it) without the fields that only say where the run is reported."""
    recipe = {k: v for k, v in recipe.items() if k != "trackio_dir"}
    recipe["trainer_args"] = {k: v for k, v in (recipe.get("trainer_args") or {}).items()
                              if k not in REPORTING_FIELDS}
    return recipe


def trainer_arguments(library_cls, settings: dict, cfg):
    """The trainer's arguments (TrainingArguments, TRL's SFTConfig, ...): our settings, then the recipe's own
    fields of that class (`cfg.trainer_args`, recipe.parse_recipe) over them. A combination the class refuses is a
    one-line recipe error."""
    from alignment.recipe import RecipeError

    for name in ("bf16", "fp16"):  # the dtype is more than the Trainer's: the model's load and Muon's iteration
        if name in cfg.trainer_args:
            raise RecipeError(f"{name}: set `precision` (auto, bf16 or fp32) instead; it decides the Trainer's {name} "
                              "and the dtype the model is loaded and trained in")
    merged = {**settings, **cfg.trainer_args}
    report_to = merged.get("report_to") or []
    if "trackio" in ([report_to] if isinstance(report_to, str) else report_to):
        # trackio reads its folder when it is imported, which the Trainer's callback does later (TRL's GRPO trainer
        # imports it at import time: a stage of that kind must call this before importing it)
        folder = Path(cfg.trackio_dir) if cfg.trackio_dir else Path(cfg.output_dir).parent / "trackio"
        os.environ.setdefault("TRACKIO_DIR", str(folder.resolve()))
    try:
        return library_cls(**merged)
    except ValueError as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RecipeError(f"{library_cls.__name__}: {first_line}") from None


# --- what a run shows while it runs -------------------------------------------------------------

# Dense bf16 peak of the GPUs these recipes meet (vendor datasheets, without sparsity), in FLOP/s.
GPU_PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12, "L40S": 362e12}


def device_peak_flops() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((peak for key, peak in GPU_PEAK_BF16.items() if key in name), None)


def flops_per_token(n_params: int, config, block_size: int) -> float:
    """6N for the weights (forward + backward) plus attention's 6 * layers * width * sequence (PaLM's count)."""
    layers = getattr(config, "num_hidden_layers", 0)
    width = getattr(config, "hidden_size", 0)
    return 6 * n_params + 6 * layers * width * block_size


class TokensPerSecond(TrainerCallback):
    """Adds tokens/s (and MFU against the GPU's real peak, when there is one) to every log line."""

    def __init__(self, tokens_per_step: int | None, n_params: int, block_size: int, config):
        """tokens_per_step None: count the tokens TRL logs (`num_tokens`, cumulative: packed batches vary)."""
        self.tokens_per_step = tokens_per_step
        self.flops_per_token = flops_per_token(n_params, config, block_size)
        self.peak = device_peak_flops()
        self.rates: list[float] = []
        self._t, self._step, self._tokens = None, 0, None

    def on_step_begin(self, args, state, control, **kwargs):
        if self._t is None:
            self._t, self._step = time.perf_counter(), state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self._t is None or logs is None or "loss" not in logs:
            return
        now = time.perf_counter()
        if self.tokens_per_step is None:
            if "num_tokens" not in logs:
                return
            tokens = logs["num_tokens"] - (self._tokens if self._tokens is not None else 0)
            self._tokens = logs["num_tokens"]
        else:
            tokens = (state.global_step - self._step) * self.tokens_per_step
        if tokens > 0 and state.global_step > self._step:
            rate = tokens / (now - self._t)
            self.rates.append(rate)
            logs["tokens_per_second"] = round(rate, 1)
            if self.peak:
                logs["mfu"] = round(rate * self.flops_per_token / self.peak, 4)
        self._t, self._step = now, state.global_step

    def summary(self) -> dict:
        rates = sorted(self.rates[1:] or self.rates)  # the first interval includes start-up
        median = rates[len(rates) // 2] if rates else None
        out = {"median": round(median, 1) if median else None}
        if self.peak and median:
            out["mfu"] = round(median * self.flops_per_token / self.peak, 4)
        return out


class SampleContinuations(TrainerCallback):
    """Greedy continuations of a few prompts at every evaluation: watch the model learn."""

    def __init__(self, tokenizer, prompts: list[str], max_new_tokens: int = 24):
        self.tokenizer, self.prompts, self.max_new_tokens = tokenizer, prompts, max_new_tokens

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        import torch

        if not state.is_world_process_zero or model is None:
            return
        was_training = model.training
        model.eval()
        lines = []
        for prompt in self.prompts:
            ids = self.tokenizer(prompt, return_tensors="pt").input_ids.to(model.device)
            with torch.no_grad():
                out = model.generate(ids, max_new_tokens=self.max_new_tokens, do_sample=False,
                                     pad_token_id=self.tokenizer.pad_token_id)
            text = self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
            lines.append(f"    {prompt!r} -> {text!r}")
        print(f"step {state.global_step} samples:\n" + "\n".join(lines), flush=True)
        if was_training:
            model.train()


def last_logged(history: list[dict], key: str):
    """The last value of `key` in the Trainer's log history (rounded), or None."""
    values = [h[key] for h in history if key in h]
    return round(values[-1], 4) if values else None


def last_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint-N dir that finished saving: the Trainer writes its state last, so a dir whose
    trainer_state.json is missing or does not parse was being saved when the run was killed (a kill between the
    file's open and its write left it empty, and the resumed run failed on it), and the one before it is taken."""
    if not folder.is_dir():
        return None
    steps = {int(m.group(1)): p for p in folder.iterdir() if (m := re.fullmatch(r"checkpoint-(\d+)", p.name))}
    return next((str(steps[s]) for s in sorted(steps, reverse=True) if checkpoint_saved(steps[s])), None)


def checkpoint_saved(checkpoint: Path) -> bool:
    """Its trainer_state.json, written last, is whole."""
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return True


class LossCurve:
    @staticmethod
    def plot(history: list[dict], path: Path, title: str = "pretraining loss") -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        train = [(h["step"], h["loss"]) for h in history if "loss" in h]
        val = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
        fig, ax = plt.subplots(figsize=(7, 4))
        if train:
            ax.plot(*zip(*train), label="train")
        if val:
            ax.plot(*zip(*val), "o-", label="validation")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("loss (nats/token)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)


def measured_model(trainer):
    """The trained model as its saved files give it, for the measurements after training: the Trainer's, with
    Accelerate's mixed-precision wrapper removed. Under bf16, Accelerate replaces the model's forward with one run in
    torch.autocast, and the wrapper stays on the object after training: measured through it, the tiny sft model
    got 72.0% of the word problems, and its saved files, loaded as `alignment eval` or anyone loads them, 72.5%
    (one reply of 200; Intel Xeon, bf16). Unwrapped, a stage's numbers are those of its model dir."""
    return trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
