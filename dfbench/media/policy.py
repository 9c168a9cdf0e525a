"""Missing-face policy: what a frame (or clip) without a face means for a video's score.

The policy is part of the protocol (it changes AUCs: SBI scores faceless frames 0.5,
DeepfakeBench silently drops them), so it is explicit and recorded:

- ``skip``: faceless frames are dropped; a video with no face at all has no score and is
  reported as a failure with reason "no face" naming the file (excluded from the metrics, counted
  in ``results.json["counts"]["missing_face"]``).
- ``score_half``: faceless frames get probability 0.5 (logit 0.0, no model call); a video with no
  face at all scores 0.5 and stays in the metrics — what SBI's and LAA-Net's official inference do.
- ``skip_half``: faceless frames are dropped (as under ``skip``), but a video with no face at all
  scores 0.5 and stays in the metrics — SBI's official video inference (its frame extractor keeps
  only frames with a face; a video where none is found falls into the 0.5 branch).
- ``fail``: any faceless frame stops the run (the protocol says a missing face is an error).

Each detector declares its official rule as ``InputSpec.missing_face`` (the default when
``--missing-face`` is not given); the policy in force is recorded in the protocol and its hash.
This module is the one place the rule lives: ``dfbench run``, ``robustness`` and ``predict`` all
go through :func:`apply_missing_policy` (via :class:`dfbench.pipeline.FaceStage`).

For clip detectors the unit is the clip: a clip is faceless when any of its frames is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .types import FaceCrops

MISSING_FACE_POLICIES = ("skip", "score_half", "skip_half", "fail")
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
    kind: str | None = None
    """Bucket of the failure: ``"no face"``, ``"too short"`` or ``"missing face (policy fail)"``."""
    n_units: int = 0
    n_missing: int = 0

    @property
    def faceless(self) -> bool:
        """No unit of the video has a face (scored 0.5 under ``score_half``, failed otherwise)."""
        return self.n_units > 0 and self.n_missing == self.n_units


def _present(crops: FaceCrops | Sequence[bool], clip_length: int) -> list[bool]:
    mask = [c is not None for c in crops.crops] if isinstance(crops, FaceCrops) else [bool(x) for x in crops]
    if clip_length <= 1:
        return mask
    n = len(mask) // clip_length
    return [all(mask[k * clip_length:(k + 1) * clip_length]) for k in range(n)]


def apply_missing_policy(
    crops: FaceCrops | Sequence[bool], policy: str = "skip", *, clip_length: int = 1,
    source: str | None = None,
) -> MissingFaceDecision:
    """Decide which units to score for a video under ``policy``.

    ``crops`` is the cropper output (or a per-frame "face found" mask). With ``clip_length`` > 1
    the frames are grouped into consecutive clips (trailing partial clip ignored). ``source``
    (the video's file) is named in a failure reason, so a user can open the file.
    """
    if policy not in MISSING_FACE_POLICIES:
        raise ValueError(f"unknown missing-face policy {policy!r}; choose from {MISSING_FACE_POLICIES}")
    present = _present(crops, clip_length)
    unit = "clip" if clip_length > 1 else "frame"
    have = [i for i, p in enumerate(present) if p]
    missing = [i for i, p in enumerate(present) if not p]
    d = MissingFaceDecision(n_units=len(present), n_missing=len(missing))
    of = f" of {source}" if source else ""
    if not present:
        d.failed, d.kind = f"no {unit}s to score (video too short){of}", "too short"
        return d
    if policy == "fail" and missing:
        d.failed = f"no face in {len(missing)} of {len(present)} {unit}s (missing-face policy 'fail'){of}"
        d.kind = "missing face (policy fail)"
        return d
    if policy == "skip_half":
        # Faces present: only those frames count. None at all: every unit is neutral, video 0.5.
        d.score, d.neutral = (have, []) if have else ([], missing)
        return d
    if policy == "skip":
        if not have:
            d.failed, d.kind = f"no face in any of the {len(present)} sampled {unit}s{of}", "no face"
            return d
        d.score = have
        return d
    d.score, d.neutral = have, missing
    return d
