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
