"""Input checks shared by every built-in corruption: frames, levels and seeds."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from .catalog import BUILTIN
from .errors import CorruptionInputError, CorruptionLevelError

SEED_LIMIT = 2**32
"""numpy's legacy ``RandomState`` accepts seeds in ``[0, 2**32)``; we use the same range for all."""


def as_clip(frames: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return ``frames`` as a ``[T, H, W, 3]`` view and whether the caller gave a single frame.

    Nothing is copied: every corruption writes into a fresh output array, so the caller's frames
    stay untouched even where the official code works in place (BW).
    """
    if not isinstance(frames, np.ndarray):
        raise CorruptionInputError(f"frames must be a numpy array, got {type(frames).__name__}")
    if frames.dtype != np.uint8:
        raise CorruptionInputError(
            f"frames must be uint8 RGB, got dtype {frames.dtype}; convert with "
            "np.clip(x, 0, 255).astype(np.uint8) (or x * 255 for [0, 1] floats) first."
        )
    if frames.ndim == 3 and frames.shape[-1] == 3:
        return frames[None], True
    if frames.ndim == 4 and frames.shape[-1] == 3:
        return frames, False
    raise CorruptionInputError(
        f"frames must be [H, W, 3] or [T, H, W, 3] RGB, got shape {tuple(frames.shape)}; "
        "channels go last (use frames.transpose(0, 2, 3, 1) for [T, C, H, W])."
    )


def restore(clip: np.ndarray, single: bool) -> np.ndarray:
    return clip[0] if single else clip


def check_level(name: str, level: int) -> object:
    """Validate ``level`` for the built-in ``name`` and return its parameter."""
    spec = BUILTIN[name]
    # bool is an int subclass; "True" as a level is a caller bug, not level 1.
    if isinstance(level, bool) or not isinstance(level, Integral) or int(level) not in spec.levels:
        raise CorruptionLevelError(name, level, spec.levels)
    return spec.parameters[int(level)]


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= int(seed) < SEED_LIMIT:
        raise CorruptionInputError(
            f"seed must be an integer in [0, 2**32), got {seed!r}; derive one per video with "
            "dfbench.corruptions.derive_seed(run_seed, video_key, name, level)."
        )
    return int(seed)
