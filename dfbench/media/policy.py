"""Missing-face policy: what a frame (or clip) without a face means for a video's score.

The policy is part of the protocol (it changes AUCs: SBI scores faceless frames 0.5,
DeepfakeBench silently drops them), so it is explicit and recorded:

- ``skip`` (default): faceless frames are dropped; a video with no face at all has no score and
  is reported as "no face" (excluded from metrics, counted in coverage).
- ``score_half``: faceless frames get probability 0.5 (logit 0.0); a video with no face scores
  0.5 — SBI's convention, which keeps every video in the metrics.
- ``fail``: any faceless frame fails the whole video (recorded with the reason).

For clip detectors the unit is the clip: a clip is faceless when any of its frames is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .types import FaceCrops

MISSING_FACE_POLICIES = ("skip", "score_half", "fail")
NEUTRAL_LOGIT = 0.0
"""Logit given to faceless units under ``score_half`` (sigmoid(0) = 0.5)."""


@dataclass
class MissingFaceDecision:
    """What the runner does with one video.

    ``score``: positions of units (frames, or clips counted from 0) to run the detector on.
    ``neutral``: positions that get :data:`NEUTRAL_LOGIT` without running the detector.
    ``failed``: a reason when the video gets no score at all (then ``score``/``neutral`` are empty).
    """

    score: list[int] = field(default_factory=list)
    neutral: list[int] = field(default_factory=list)
    failed: str | None = None
    n_units: int = 0
    n_missing: int = 0


def _present(crops: FaceCrops | Sequence[bool], clip_length: int) -> list[bool]:
    mask = [c is not None for c in crops.crops] if isinstance(crops, FaceCrops) else [bool(x) for x in crops]
    if clip_length <= 1:
        return mask
    n = len(mask) // clip_length
    return [all(mask[k * clip_length:(k + 1) * clip_length]) for k in range(n)]


def apply_missing_policy(
    crops: FaceCrops | Sequence[bool], policy: str = "skip", *, clip_length: int = 1
) -> MissingFaceDecision:
    """Decide which units to score for a video under ``policy``.

    ``crops`` is the cropper output (or a per-frame "face found" mask). With ``clip_length`` > 1
    the frames are grouped into consecutive clips (trailing partial clip ignored).
    """
    if policy not in MISSING_FACE_POLICIES:
        raise ValueError(f"unknown missing-face policy {policy!r}; choose from {MISSING_FACE_POLICIES}")
    present = _present(crops, clip_length)
    unit = "clip" if clip_length > 1 else "frame"
    have = [i for i, p in enumerate(present) if p]
    missing = [i for i, p in enumerate(present) if not p]
    d = MissingFaceDecision(n_units=len(present), n_missing=len(missing))
    if not present:
        d.failed = f"no {unit}s to score (video too short)"
        return d
    if policy == "fail" and missing:
        d.failed = f"no face in {len(missing)} of {len(present)} {unit}s (missing-face policy 'fail')"
        return d
    if policy == "skip":
        if not have:
            d.failed = f"no face in any of the {len(present)} sampled {unit}s"
            return d
        d.score = have
        return d
    d.score, d.neutral = have, missing
    return d
