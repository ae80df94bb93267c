"""What a training run shows while it runs: tokens/s (and MFU on GPUs), sampled continuations at each
evaluation, a loss-curve PNG at the end; and where a killed run picks up again."""

from __future__ import annotations

import re
import time
from pathlib import Path

from transformers import TrainerCallback

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
    """The newest checkpoint-N dir that finished saving (the trainer state is written last)."""
    if not folder.is_dir():
        return None
    done = [p for p in folder.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    if not done:
        return None
    return str(max(done, key=lambda p: int(re.findall(r"\d+", p.name)[-1])))


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
