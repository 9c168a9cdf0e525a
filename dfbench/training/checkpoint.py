"""Resumable training checkpoints: atomic and fsynced on disk, every random state inside.

A checkpoint is one ``torch.save`` payload written to a temporary file in the same directory,
flushed to disk (``fsync``) and renamed over the previous one, so a ``kill -9`` (or a power cut)
at any moment leaves either the old or the new checkpoint, never half of one. It is read back with
``weights_only=True``: it holds tensors and plain Python values only, which is why the numpy and
Python RNG states are stored as tensors and lists.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..weights import atomic_write_bytes, load_torch_checkpoint

FORMAT = "dfbench-train/1"


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buf)
    atomic_write_bytes(path, buf.getvalue())  # temp file + fsync + rename


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    return load_torch_checkpoint(path)


def rng_state() -> dict[str, Any]:
    """Every generator a training step may draw from: torch (CPU and each CUDA device), numpy,
    Python's ``random``."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": _python_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _python_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed torch (all devices), numpy and Python from one integer."""
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    random.seed(seed)


__all__ = ["FORMAT", "load_checkpoint", "rng_state", "save_checkpoint", "seed_everything", "set_rng_state"]
