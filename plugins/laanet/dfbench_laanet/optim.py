"""LAA-Net's LinearDecayLR schedule with a booster.

SAM (LAA-Net's and SBI's optimiser step) lives in the training core, :mod:`dfbench.training.sam`;
everything else about optimisation (scaler, all-reduce, checkpoints) is the core's too.
"""

from __future__ import annotations

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
