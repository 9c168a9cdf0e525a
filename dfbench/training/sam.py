"""Sharpness-Aware Minimisation as a task's own optimiser step, shared by LAA-Net and SBI.

Foret et al., "Sharpness-Aware Minimization for Efficiently Improving Generalization", ICLR 2021,
https://arxiv.org/abs/2010.01412. A task that trains with SAM keeps a :class:`SAM` around the
base optimiser the core built and returns :func:`sam_step` from ``Task.optimizer_step``; the core's
scaler, all-reduce and checkpoints stay as they are (SAM holds no state beyond one step).
"""

from __future__ import annotations

import torch


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
