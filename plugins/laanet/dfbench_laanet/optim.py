"""LAA-Net's optimiser pieces: SAM around Adam and the LinearDecayLR schedule with a booster.

SAM is this family's own optimiser step (see :meth:`dfbench_laanet.train.LAANetTask.optimizer_step`);
everything else about optimisation (scaler, all-reduce, checkpoints) is the training core's.
"""

from __future__ import annotations

import torch

from .config import OptimConfig


def lr_at(epoch: float, optim: OptimConfig, epochs: int) -> float:
    """LinearDecayLR: base·(1 + (booster−1)·e/W) for e < W, then booster·base decaying to 0."""
    end = optim.decay_end_epoch if optim.decay_end_epoch is not None else float(epochs)
    peak = optim.base_lr * optim.booster
    w = optim.warmup_epochs
    if w > 0 and epoch < w:
        return optim.base_lr * (1.0 + (optim.booster - 1.0) * epoch / w)
    if end <= w:
        return peak
    return max(0.0, peak * (1.0 - (epoch - w) / (end - w)))


class SAM:
    """Sharpness-Aware Minimisation (Foret et al., 2021) around a base optimiser.

    ``first_step`` moves to w + ρ·g/‖g‖ (global L2 norm); ``second_step`` restores w and lets the
    base optimiser step with the gradient taken at the perturbed point.
    """

    def __init__(self, base: torch.optim.Optimizer, rho: float = 0.05) -> None:
        self.base, self.rho = base, rho
        self._e: dict[torch.Tensor, torch.Tensor] = {}

    def _grads(self) -> list[torch.Tensor]:
        return [p for g in self.base.param_groups for p in g["params"] if p.grad is not None]

    @torch.no_grad()
    def first_step(self) -> None:
        params = self._grads()
        if not params:
            return
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params]))
        scale = self.rho / (norm + 1e-12)
        for p in params:
            e = p.grad * scale
            p.add_(e)
            self._e[p] = e

    @torch.no_grad()
    def restore(self) -> None:
        for p, e in self._e.items():
            p.sub_(e)
        self._e.clear()

    def second_step(self) -> None:
        self.restore()
        self.base.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base.zero_grad(set_to_none=set_to_none)


def sam_step(sam: SAM | None, step, rt):
    """One SAM update inside the training core's step (``Task.optimizer_step``), shared by every
    task that trains with SAM (LAA-Net, SBI): None without SAM (the core's plain step runs).

    The first forward/backward gives the ascent direction; SAM climbs to the sharpest nearby point,
    the second forward/backward takes the gradient there, and the base optimiser steps from the
    original weights. With a GradScaler the first gradients are unscaled by hand (it allows one
    ``unscale_`` per step) and a non-finite step is skipped on every process alike."""
    if sam is None:
        return None
    terms = step.forward_backward()
    scaler = step.scaler
    if scaler is not None:
        inv = 1.0 / float(scaler.get_scale())
        for p in step.params:
            if p.grad is not None:
                p.grad.mul_(inv)
        ok = all(bool(torch.isfinite(p.grad).all()) for p in step.params if p.grad is not None)
        if rt.all_sum([0.0 if ok else 1.0])[0] != 0.0:
            scaler.update(scaler.get_scale() / 2)
            step.optimizer.zero_grad(set_to_none=True)
            return {**terms, "skipped": 1.0}
    sam.first_step()
    step.optimizer.zero_grad(set_to_none=True)
    step.forward_backward()
    if scaler is not None:
        sam.restore()
        scaler.step(step.optimizer)
        scaler.update()
    else:
        sam.second_step()
    return terms


def set_bn_momentum(module: torch.nn.Module, momentum: float | None) -> None:
    """Every BatchNorm's running-statistics momentum (None: leave the network's own)."""
    if momentum is None:
        return
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = float(momentum)
