"""Training speed of `alignment pretrain`'s loop (transformers' Trainer, the stage's own settings) against a
plain PyTorch loop with the same model, batch, sequence length, optimizer, schedule, clipping and precision.

    python benchmarks/pretrain.py [--steps 30] [--rounds 3] [--precisions fp32 bf16] [--gpu_model_size 125m]

One process, one run: the two loops take turns step by step (these machines' speed drifts), `--rounds` times
per precision; each round's speed comes from its median step time, and we print tokens/s of each and the
median ratio (ours / plain; target >= 0.95, i.e. <= 5% overhead).
It also measures this machine's own matmul peak (fp32, and bf16 where the hardware has it: GPUs, CPUs with
avx512_bf16/AMX) and prints the training FLOP/s as a share of it; a CPU without native bf16 emulates it at
~0.7 GFLOP/s (~100x below fp32, an AVX2-only EPYC), so there bf16 is neither measured nor trained; on a GPU
it prints MFU against the device's datasheet peak (alignment/training.py), and by default runs a
~125M-parameter model there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def native_precisions(requested: list[str] | None) -> list[str]:
    """The precisions to measure: those asked for (default fp32, and bf16 where it is native), never emulated bf16."""
    from alignment.training import hardware_has_bf16

    native = hardware_has_bf16()
    if requested is None:
        return ["fp32", "bf16"] if native else ["fp32"]
    if "bf16" in requested and not native:
        print("bf16: skipped: this CPU has no native bf16 (no avx512_bf16 / amx_bf16 in /proc/cpuinfo); emulated bf16 "
              "matmuls run ~100x slower than fp32, so neither its peak nor a training run would finish in minutes")
    return [p for p in requested if p == "fp32" or native]


def measured_peaks(precisions: list[str]) -> dict[str, float]:
    """This device's matmul peak (FLOP/s) for each precision, printed on one line."""
    import torch

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    peaks = {precision: matmul_peak(dtypes[precision]) for precision in precisions}
    print("matmul peak measured here: " + ", ".join(f"{p} {peak / 1e9:.0f} GFLOP/s" for p, peak in peaks.items()))
    return peaks


def matmul_peak(dtype, size: int = 2048, repeats: int = 20) -> float:
    """FLOP/s of a large square matmul: the practical peak this device reaches."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * size**3 * repeats / (time.perf_counter() - start)


class RandomBlocks:
    """Random token blocks: speed does not depend on what the tokens say."""

    def __init__(self, n: int, block_size: int, vocab: int, seed: int = 0):
        import torch

        g = torch.Generator().manual_seed(seed)
        self.blocks = torch.randint(0, vocab, (n, block_size), generator=g)

    def __len__(self):
        return len(self.blocks)

    def __getitem__(self, i):
        return {"input_ids": self.blocks[i], "labels": self.blocks[i]}


def make_model(cfg, vocab: int):
    import torch

    from alignment.pretrain import model_from_config

    torch.manual_seed(0)  # both loops start from the same weights
    return model_from_config(cfg, vocab)


class PlainLoop:
    """The same work in plain PyTorch: AdamW, warmup + cosine, clipping, bf16 autocast when asked."""

    def __init__(self, cfg, precision: str, data, vocab: int, total_steps: int):
        import torch
        from transformers import get_cosine_schedule_with_warmup

        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.precision, self.max_grad_norm = precision, cfg.max_grad_norm
        self.model = make_model(cfg, vocab).to(self.device)
        self.model.train()
        decay = [p for p in self.model.parameters() if p.ndim >= 2]
        no_decay = [p for p in self.model.parameters() if p.ndim < 2]
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                            {"params": no_decay, "weight_decay": 0.0}], lr=cfg.learning_rate)
        self.scheduler = get_cosine_schedule_with_warmup(self.optimizer, int(cfg.warmup_ratio * total_steps),
                                                         total_steps)
        self.batches = iter(torch.utils.data.DataLoader(data, batch_size=cfg.per_device_train_batch_size,
                                                        shuffle=True, drop_last=True))

    def step(self) -> None:
        import torch

        ids = next(self.batches)["input_ids"].to(self.device)
        with torch.autocast(device_type=self.device, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            loss = self.model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)


def interleaved_round(cfg, precision: str, data, vocab: int, steps: int) -> tuple[list[float], list[float]]:
    """Seconds of each of `steps` optimizer steps of the stage's Trainer and of the plain loop, taken in turns.

    The plain loop's step runs inside the Trainer's on_step_end callback, so the two alternate step by step and
    both see the same machine. On these shared 2-core machines the speed drifts (7.6k to 11.8k tokens/s
    between two rounds of one run), and loops timed one after the other measured the drift: their per-round
    ratios ranged from 0.84 to 1.14, where taking turns gives 1.00 to 1.01 (bf16)."""
    import torch
    from transformers import Trainer, TrainerCallback

    from alignment.pretrain import training_arguments

    def clock() -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter()

    cfg.max_steps, cfg.eval_steps, cfg.save_steps, cfg.logging_steps = steps + 1, 10**9, 10**9, 10**9
    plain = PlainLoop(cfg, precision, data, vocab, total_steps=steps + 1)
    ours_seconds, plain_seconds = [], []

    class TakeTurns(TrainerCallback):
        resumed = None  # when the Trainer got the machine back after the plain loop's step

        def on_step_end(self, args, state, control, **kwargs):
            now = clock()
            if self.resumed is not None:  # the Trainer's first step is start-up: not timed
                ours_seconds.append(now - self.resumed)
            plain.step()
            if self.resumed is not None:
                plain_seconds.append(clock() - now)
            self.resumed = clock()

    with tempfile.TemporaryDirectory() as out:
        args = training_arguments(cfg, Path(out), precision)
        args.save_strategy = args.eval_strategy = "no"
        args.disable_tqdm = True
        Trainer(model=make_model(cfg, vocab), args=args, train_dataset=data, callbacks=[TakeTurns()]).train()
    return ours_seconds, plain_seconds


def main() -> None:
    import torch

    from alignment.pretrain import PretrainConfig
    from alignment.recipe import parse_recipe
    from alignment.training import device_peak_flops, flops_per_token

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precisions", nargs="+", choices=["fp32", "bf16"],
                        help="default: fp32, and bf16 where it is native")
    parser.add_argument("--gpu_model_size", choices=["tiny", "125m"], default="125m")
    args = parser.parse_args()
    args.precisions = native_precisions(args.precisions)
    if not args.precisions:
        sys.exit("nothing to measure: bf16 was the only precision asked for and this CPU does not have it natively")

    # the recipe read as the stage reads it (a trainer field of the recipe is timed too, not dropped), reporting nowhere
    cfg = parse_recipe(PretrainConfig, ["--config", str(ROOT / "recipes" / "tiny" / "pretrain.yaml"),
                                        "--report_to", "none"])
    if torch.cuda.is_available() and args.gpu_model_size == "125m":
        # GPT-2-small shape: 12 layers of width 768, 1024 tokens, ~125 M parameters with a 50k vocabulary
        cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads = 768, 12, 12
        cfg.intermediate_size, cfg.block_size, cfg.per_device_train_batch_size = 2048, 1024, 16
        vocab = 50304
    else:
        vocab = 2048
    data = RandomBlocks(cfg.per_device_train_batch_size * (args.steps + 2) * 2, cfg.block_size, vocab)
    model = make_model(cfg, vocab)
    n_params = sum(p.numel() for p in model.parameters())
    per_token = flops_per_token(n_params, model.config, cfg.block_size)
    del model
    tokens_per_step = cfg.per_device_train_batch_size * cfg.block_size
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    print(f"{device}, {torch.get_num_threads()} threads; model {n_params / 1e6:.2f} M parameters, batch "
          f"{cfg.per_device_train_batch_size} x {cfg.block_size} tokens, {args.steps} timed steps per loop")
    peaks = measured_peaks(args.precisions)
    datasheet = device_peak_flops()
    for precision in args.precisions:
        rates = {"ours": [], "plain": []}
        for round_ in range(args.rounds):
            ours_steps, plain_steps = interleaved_round(cfg, precision, data, vocab, args.steps)
            for name, steps in (("ours", ours_steps), ("plain", plain_steps)):
                # the median step, so that one step slowed by another process does not move a round
                seconds = statistics.median(steps)
                rates[name].append(tokens_per_step / seconds)
                print(f"  {precision} round {round_} {name:<5} {tokens_per_step / seconds:9.0f} tokens/s (median step "
                      f"{seconds * 1e3:.0f} ms, mean {statistics.mean(steps) * 1e3:.0f} ms)", flush=True)
        ratios = [o / p for o, p in zip(rates["ours"], rates["plain"])]
        ours = statistics.median(rates["ours"])
        achieved = ours * per_token
        line = (f"{precision}: ours {ours:.0f} tokens/s, plain {statistics.median(rates['plain']):.0f} tokens/s, "
                f"median ratio ours/plain {statistics.median(ratios):.3f} (target >= 0.95); training "
                f"{achieved / 1e9:.1f} GFLOP/s = {achieved / peaks[precision]:.1%} of the measured {precision} matmul peak")
        if datasheet:
            line += f"; MFU {achieved / datasheet:.1%} of the {datasheet / 1e12:.0f} TFLOP/s datasheet bf16 peak"
        print(line, flush=True)


if __name__ == "__main__":
    main()
