"""Muon for a Transformer's hidden matrices, AdamW for the rest, as one torch optimizer (the Trainer's scheduler,
checkpoints and resume treat it like AdamW).

Why: the tiny base model must memorise its corpus (a person's facts are recalled once their pages come back
verbatim, README stage 3), and on a 2-core CPU every pass over the corpus costs about a minute and a half. Muon
(Keller Jordan 2024) replaces each hidden matrix's update by its nearest semi-orthogonal matrix (a Newton-Schulz
iteration on the momentum), so every direction of the matrix learns at the same rate instead of the few that
dominate the gradient. On the tiny corpus, 10 epochs: AdamW reached train loss 0.67 and 34% few-shot fact recall,
Muon 0.029 and 49% (README, stage 3).

The update is scaled to AdamW's RMS (Moonlight, Liu et al. 2025: 0.2 x sqrt(max(rows, cols))), so one learning
rate and one weight decay serve both halves. Embeddings (tied to the output head here) and norm weights stay on
AdamW, as in every Muon recipe. torch 2.13 ships torch.optim.Muon, but it runs the Newton-Schulz iteration in
bf16 unconditionally, which CPUs without native bf16 emulate at ~0.7 GFLOP/s (a 1024x1024 matmul, measured on an
AVX2-only EPYC): there it would cost ~20 s a step. Ours iterates in bf16 only where the hardware has it.
"""

from __future__ import annotations

import math

import torch

# Newton-Schulz quintic coefficients (Keller Jordan's, the same as torch.optim.Muon's defaults)
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def orthogonalise(matrix: torch.Tensor, steps: int, dtype: torch.dtype) -> torch.Tensor:
    """An approximation of U V^T for matrix = U S V^T (singular values pushed to ~[0.7, 1.2])."""
    a, b, c = NS_COEFFICIENTS
    x = matrix.to(dtype)
    transposed = x.shape[0] > x.shape[1]
    if transposed:  # iterate on the wide orientation: the Gram matrix is the small one
        x = x.T
    x = x / x.norm().clamp(min=1e-7)  # spectral norm <= Frobenius norm <= 1
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.T if transposed else x).to(matrix.dtype)


def muon_parameter_names(model: torch.nn.Module) -> set[str]:
    """The hidden 2-D weights: every matrix except the embeddings and the output head."""
    return {name for name, p in model.named_parameters()
            if p.requires_grad and p.ndim == 2 and "embed" not in name and "lm_head" not in name}


class MuonWithAdamW(torch.optim.Optimizer):
    """Groups flagged `muon` get Muon (momentum, Nesterov, orthogonalised, RMS matched to AdamW), the others AdamW."""

    def __init__(self, model: torch.nn.Module, lr: float, weight_decay: float, betas=(0.9, 0.999), eps: float = 1e-8,
                 momentum: float = 0.95, ns_steps: int = 5, ns_dtype: torch.dtype = torch.float32):
        hidden = muon_parameter_names(model)
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        groups = [
            {"params": [p for n, p in named if n in hidden], "muon": True, "weight_decay": weight_decay},
            # AdamW half: decay the embedding matrix, not the norm weights (transformers' Trainer does the same)
            {"params": [p for n, p in named if n not in hidden and p.ndim >= 2], "muon": False,
             "weight_decay": weight_decay},
            {"params": [p for n, p in named if n not in hidden and p.ndim < 2], "muon": False, "weight_decay": 0.0},
        ]
        defaults = {"lr": lr, "betas": betas, "eps": eps, "momentum": momentum, "ns_steps": ns_steps}
        super().__init__([g for g in groups if g["params"]], defaults)
        self.ns_dtype = ns_dtype

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, decay = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                p.mul_(1 - lr * decay)  # decoupled weight decay, as AdamW
                if group["muon"]:
                    buffer = state.setdefault("momentum_buffer", torch.zeros_like(p))
                    buffer.mul_(group["momentum"]).add_(p.grad)
                    update = p.grad.add(buffer, alpha=group["momentum"])  # Nesterov
                    update = orthogonalise(update, group["ns_steps"], self.ns_dtype)
                    p.add_(update, alpha=-lr * 0.2 * math.sqrt(max(p.shape)))
                else:
                    if "step" not in state:
                        state["step"] = 0
                        state["exp_avg"] = torch.zeros_like(p)
                        state["exp_avg_sq"] = torch.zeros_like(p)
                    state["step"] += 1
                    beta1, beta2 = group["betas"]
                    state["exp_avg"].lerp_(p.grad, 1 - beta1)
                    state["exp_avg_sq"].mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                    corrected_sq = state["exp_avg_sq"] / (1 - beta2 ** state["step"])
                    p.addcdiv_(state["exp_avg"], corrected_sq.sqrt_().add_(group["eps"]),
                               value=-lr / (1 - beta1 ** state["step"]))
        return loss


def muon_optimizer(model: torch.nn.Module, learning_rate: float, weight_decay: float,
                   bf16_iteration: bool, ns_steps: int = 5) -> MuonWithAdamW:
    """The optimizer a stage gets with `muon: true`. `bf16_iteration`: Newton-Schulz in bf16, for bf16 runs on
    hardware with native bf16 only (training.native_bf16_run); emulated bf16 would cost ~100x fp32's time."""
    return MuonWithAdamW(model, lr=learning_rate, weight_decay=weight_decay,
                         ns_steps=ns_steps, ns_dtype=torch.bfloat16 if bf16_iteration else torch.float32)
