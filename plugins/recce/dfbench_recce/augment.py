"""Training-time jitter for RECCE: the training core's generic per-sample zoom/shift and colour
jitter (:mod:`dfbench.training.crops`, where the reasons for it are written down); the names stay
importable from here."""

from __future__ import annotations

from dfbench.training.crops import AugmentConfig, augment_batch

__all__ = ["AugmentConfig", "augment_batch"]
