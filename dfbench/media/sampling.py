"""Which frames of a video are scored: the frame-sampling rule of the protocol.

Frame-unit detectors get ``N`` evenly spaced frames computed from the *true* frame count
(``np.linspace(0, n - 1, N)`` truncated to int, as DeepfakeBench, SBI and LAA-Net extract them —
but over the real count, avoiding DeepfakeBench's "first N frames" loading bug). Clip-unit
detectors get consecutive, non-overlapping clips from frame 0 (LipForensics'
``ConsecutiveClipSampler``), optionally limited to the first ``max_frames`` frames (FF++: 110).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..specs import InputSpec


def evenly_spaced(n_frames: int, count: int) -> list[int]:
    """``count`` evenly spaced indices over ``[0, n_frames - 1]``; all frames when count >= n.

    Indices are ``linspace`` values truncated to int (the convention of the public extraction
    scripts). Truncation can repeat an index only when count > n, which is handled by returning
    every frame, so the result is always strictly increasing.
    """
    if n_frames <= 0 or count <= 0:
        return []
    if count >= n_frames:
        return list(range(n_frames))
    return [int(i) for i in np.linspace(0, n_frames - 1, count).astype(np.int64)]


def consecutive_clips(n_frames: int, clip_length: int, max_frames: int | None = None) -> list[int]:
    """Frame indices of non-overlapping clips of ``clip_length`` from frame 0.

    The usable length is ``min(n_frames, max_frames)`` truncated to a multiple of the clip length;
    a video shorter than one clip yields ``[]`` (the runner records it as "too short").
    """
    if clip_length <= 0:
        raise ValueError(f"clip_length must be positive, got {clip_length}")
    usable = n_frames if not max_frames or max_frames <= 0 else min(n_frames, max_frames)
    usable -= usable % clip_length
    return list(range(max(usable, 0)))


def sample_indices(n_frames: int, input_spec: InputSpec, max_frames: int | None = None) -> list[int]:
    """The frames of a video with ``n_frames`` frames that a detector with ``input_spec`` scores.

    Frame unit: ``max_frames`` (or ``input_spec.frames_per_video``) evenly spaced frames.
    Clip unit: consecutive frames in whole clips, limited to ``max_frames`` when given, else to
    ``input_spec.frames_per_video`` when > 0, else the whole video.
    """
    if input_spec.unit == "clip":
        limit = max_frames if max_frames is not None else input_spec.frames_per_video
        return consecutive_clips(n_frames, input_spec.clip_length, limit if limit and limit > 0 else None)
    count = max_frames if max_frames is not None else input_spec.frames_per_video
    if count <= 0:
        return list(range(max(n_frames, 0)))
    return evenly_spaced(n_frames, count)


def sampling_plan(input_spec: InputSpec, max_frames: int | None = None) -> dict[str, Any]:
    """The sampling rule as data (goes into the protocol hash and the crop-cache key)."""
    if input_spec.unit == "clip":
        limit = max_frames if max_frames is not None else input_spec.frames_per_video
        return {"rule": "consecutive_clips", "clip_length": input_spec.clip_length,
                "max_frames": int(limit) if limit and limit > 0 else None}
    count = max_frames if max_frames is not None else input_spec.frames_per_video
    return {"rule": "evenly_spaced", "frames": int(count) if count > 0 else None}
