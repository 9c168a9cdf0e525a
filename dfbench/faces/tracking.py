"""One face per video: link detections across frames into tracks, then pick the scored identity.

Multi-face videos (interviews, DFDC, DFD) scored frame by frame with "the largest face" can switch
people between frames, mixing a real bystander's scores into a fake subject's. Tracks are built
greedily from frame to frame: a detection continues the track whose last box it overlaps most,
the cost being ``(1 - IoU) + landmark_weight * d`` where ``d`` is the mean distance of the five
landmarks divided by the track box's diagonal; pairs with IoU below ``min_iou`` (after
``max_gap`` unmatched frames a track ends) start new tracks. Sampled frames can be far apart,
hence IoU rather than motion models.

Policies (recorded in the recipe):

- ``largest``: the track with the largest mean box area (the subject fills the frame);
- ``most_frequent``: the track seen in most frames (ties: larger area);
- ``mask``: the track overlapping the dataset's manipulation masks most (DFD and FF++ ship mask
  videos): per frame, the fraction of the track box covered by the mask, summed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .retinaface import Detection

POLICIES = ("largest", "most_frequent", "mask")


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    """Detections of one identity: ``frames[i]`` is the frame index of ``dets[i]``."""

    frames: list[int] = field(default_factory=list)
    dets: list[Detection] = field(default_factory=list)

    @property
    def mean_area(self) -> float:
        return float(np.mean([(d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) for d in self.dets]))

    def at(self, frame: int) -> Detection | None:
        return self.dets[self.frames.index(frame)] if frame in self.frames else None


def _cost(track: Track, d: Detection, landmark_weight: float) -> tuple[float, float]:
    last = track.dets[-1]
    overlap = iou(last.box, d.box)
    diag = float(np.hypot(last.box[2] - last.box[0], last.box[3] - last.box[1])) or 1.0
    lm = float(np.linalg.norm(np.asarray(last.landmarks) - np.asarray(d.landmarks), axis=1).mean()) / diag \
        if np.shape(last.landmarks) == np.shape(d.landmarks) else 0.0
    return (1.0 - overlap) + landmark_weight * lm, overlap


def build_tracks(dets_per_frame: list[list[Detection]], *, min_iou: float = 0.2, landmark_weight: float = 0.5,
                 max_gap: int = 8) -> list[Track]:
    """Greedy frame-to-frame association (best pairs first); deterministic for equal inputs."""
    tracks: list[Track] = []
    for t, dets in enumerate(dets_per_frame):
        live = [k for k, tr in enumerate(tracks) if t - tr.frames[-1] <= max_gap + 1]
        pairs = []
        for k in live:
            for j, d in enumerate(dets):
                cost, overlap = _cost(tracks[k], d, landmark_weight)
                if overlap >= min_iou:
                    pairs.append((cost, k, j))
        used_t, used_d = set(), set()
        for _, k, j in sorted(pairs):
            if k in used_t or j in used_d:
                continue
            tracks[k].frames.append(t)
            tracks[k].dets.append(dets[j])
            used_t.add(k)
            used_d.add(j)
        for j, d in enumerate(dets):
            if j not in used_d:
                tracks.append(Track([t], [d]))
    return tracks


def mask_overlap(track: Track, masks: list[np.ndarray | None]) -> float:
    """Sum over the track's frames of the fraction of its box covered by the (non-zero) mask."""
    total = 0.0
    for t, d in zip(track.frames, track.dets, strict=True):
        m = masks[t] if t < len(masks) else None
        if m is None:
            continue
        h, w = m.shape[:2]
        x0, y0 = max(int(d.box[0]), 0), max(int(d.box[1]), 0)
        x1, y1 = min(int(np.ceil(d.box[2])), w), min(int(np.ceil(d.box[3])), h)
        if x1 > x0 and y1 > y0:
            region = m[y0:y1, x0:x1]
            total += float((region.reshape(region.shape[0], region.shape[1], -1).max(-1) > 0).mean())
    return total


def choose_track(tracks: list[Track], policy: str = "largest", masks: list[np.ndarray | None] | None = None
                 ) -> Track | None:
    if policy not in POLICIES:
        raise ValueError(f"unknown identity policy {policy!r}; choose from {POLICIES}")
    if not tracks:
        return None
    if policy == "mask":
        if masks is None:
            raise ValueError("identity policy 'mask' needs the dataset's manipulation masks (DFD, FF++ mask videos)")
        return max(tracks, key=lambda tr: (mask_overlap(tr, masks), tr.mean_area))
    if policy == "most_frequent":
        return max(tracks, key=lambda tr: (len(tr.frames), tr.mean_area))
    return max(tracks, key=lambda tr: (tr.mean_area, len(tr.frames)))


def one_identity(dets_per_frame: list[list[Detection]], policy: str = "largest",
                 masks: list[np.ndarray | None] | None = None, **track_args) -> list[list[Detection]]:
    """Per frame, only the chosen identity's detection (``[]`` where it is not seen)."""
    chosen = choose_track(build_tracks(dets_per_frame, **track_args), policy, masks)
    if chosen is None:
        return [[] for _ in dets_per_frame]
    return [[d] if (d := chosen.at(t)) is not None else [] for t in range(len(dets_per_frame))]
