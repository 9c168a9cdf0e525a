"""Blended Images (BI, Face X-ray) pseudo-fakes, in the form LAA-Net trains on.

Li et al., "Face X-ray for More General Face Forgery Detection", CVPR 2020,
https://arxiv.org/abs/1912.13458 — in the form LAA-Net uses (our clean-room LAA-Net notes §4.3–4.4):
an offline search of the 30 nearest faces by landmark distance among frames of *other* videos,
then online: hull mask of one of four types on the background face, piecewise deformation and a
random erosion/dilation of the mask, colour transfer of the foreground to the background inside
the mask, a feathered blend, random down/up resampling, and the same geometric and colour steps as
SBI. Unlike the official loader (a 50 % coin per item), each call returns a *pair*: the real is
the background frame through the same pipeline, so the blend is the only difference.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import DfbenchError
from ..fileio import atomic_write_bytes
from . import augment
from .hulls import HULL_TYPES, random_hull_mask
from .sbi import Finisher, PseudoFakePair, blend

log = logging.getLogger(__name__)


class NeighbourSearchError(DfbenchError):
    """The BI neighbour search cannot run (e.g. all frames come from one video)."""


def nearest_neighbours(landmarks: np.ndarray, video_ids: Sequence[int], k: int = 30,
                       n_candidates: int | None = 10_000, seed: int = 0, chunk: int = 64
                       ) -> np.ndarray:
    """For each frame, the ``k`` frames of *other* videos with the smallest landmark distance.

    Distance = sum over the 68 points of the L2 distance (no alignment, as Face X-ray). With more
    than ``n_candidates`` frames each query scores a random subset of that size (the official
    10,000; ``None`` = exhaustive). Computed with torch in query chunks; returns ``[N, k]`` int64
    indices, nearest first, padded with ``-1`` when fewer than ``k`` other-video frames exist.
    """
    import torch

    lm = torch.as_tensor(np.asarray(landmarks, np.float32)[:, :68])
    vid = torch.as_tensor(np.asarray(video_ids, np.int64))
    n = lm.shape[0]
    if n == 0 or int(vid.unique().numel()) < 2:
        raise NeighbourSearchError("BI needs frames from at least two videos to pick foreground faces "
                                   "from other videos; give the training set more than one video")
    g = torch.Generator().manual_seed(seed)
    exhaustive = n_candidates is None or n <= n_candidates
    c = n if exhaustive else int(n_candidates)
    out = torch.full((n, k), -1, dtype=torch.int64)
    flat = lm.reshape(n, -1)
    for s in range(0, n, chunk):
        q = lm[s:s + chunk]
        b = q.shape[0]
        cand = (torch.arange(n).expand(b, n) if exhaustive
                else torch.randint(0, n, (b, c), generator=g))
        other = flat[cand].reshape(b, c, 68, 2)
        d = (other - q[:, None]).norm(dim=-1).sum(-1)
        d[vid[cand] == vid[s:s + b, None]] = float("inf")
        kk = min(k, c)
        val, idx = d.topk(kk, dim=1, largest=False)
        picked = cand.gather(1, idx)
        picked[torch.isinf(val)] = -1
        out[s:s + b, :kk] = picked
    return out.numpy()


@dataclass
class FaceBank:
    """Real face crops of many videos, with landmarks; the pool BI draws fore- and backgrounds from."""

    frames: list[np.ndarray]
    landmarks: list[np.ndarray]
    video_ids: np.ndarray
    _neighbours: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_videos(cls, videos: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]]) -> FaceBank:
        frames, lms, vids = [], [], []
        for v, frames_v in enumerate(videos):
            for img, lm in frames_v:
                frames.append(img)
                lms.append(np.asarray(lm, np.float32))
                vids.append(v)
        return cls(frames, lms, np.asarray(vids, np.int64))

    def __len__(self) -> int:
        return len(self.frames)

    def cache_key(self, k: int, n_candidates: int | None, seed: int) -> str:
        h = hashlib.sha256()
        for lm in self.landmarks:
            h.update(np.ascontiguousarray(lm[:68], np.float32).tobytes())
        h.update(self.video_ids.tobytes())
        h.update(f"{k}:{n_candidates}:{seed}".encode())
        return h.hexdigest()[:20]

    def neighbours(self, k: int = 30, n_candidates: int | None = 10_000, seed: int = 0,
                   cache_dir: str | Path | None = None) -> np.ndarray:
        """The ``[N, k]`` neighbour table, computed once and cached in memory (and on disk)."""
        if self._neighbours is not None and self._neighbours.shape[1] >= k:
            return self._neighbours[:, :k]
        path = None
        if cache_dir is not None:
            path = Path(cache_dir) / f"bi_neighbours_{self.cache_key(k, n_candidates, seed)}.npy"
            if path.exists():
                self._neighbours = np.load(path)
                return self._neighbours
        table = nearest_neighbours(np.stack(self.landmarks), self.video_ids, k, n_candidates, seed)
        if path is not None:
            import io

            buf = io.BytesIO()
            np.save(buf, table)
            atomic_write_bytes(path, buf.getvalue())
            log.info("cached BI neighbours for %d frames at %s", len(self), path)
        self._neighbours = table
        return table


def colour_transfer(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Shift ``source``'s per-channel mean inside ``mask`` to ``target``'s (uint8 out)."""
    sel = mask > 0
    if not sel.any():
        return source
    shift = target[sel].mean(0) - source[sel].mean(0)
    return np.clip(source.astype(np.float32) + shift, 0, 255).astype(np.uint8)


def feather_weights(mask: np.ndarray, feather: float = 0.2) -> np.ndarray:
    """Weights rising from 0 at the mask edge to 1 at ``feather`` × the mask's extent inside."""
    binary = (mask > 0).astype(np.uint8)
    ys, xs = np.nonzero(binary)
    if ys.size == 0:
        return np.zeros(mask.shape, np.float32)
    extent = max(ys.max() - ys.min(), xs.max() - xs.min()) + 1
    dist = cv2.distanceTransform(binary, cv2.DIST_L2, 3)
    return np.clip(dist / max(feather * extent, 1.0), 0.0, 1.0).astype(np.float32)


@dataclass
class BIGenerator:
    """Blended-image pseudo-fakes from a :class:`FaceBank` (``gen(index, rng)``)."""

    bank: FaceBank
    out_size: int = 384
    hm_size: int | None = None
    train: bool = True
    k_neighbours: int = 30
    n_candidates: int | None = 10_000
    hull_types: tuple[str, ...] = HULL_TYPES
    resize_range: tuple[float, float] = (0.4, 1.0)
    margin: tuple[int, int] = (5, 25)
    cache_dir: str | None = None
    seed: int = 0
    max_tries: int = 4

    def __post_init__(self) -> None:
        self._finish = Finisher(self.out_size, self.hm_size, self.margin, self.train)

    def __len__(self) -> int:
        return len(self.bank)

    def __call__(self, index: int, rng: np.random.Generator) -> PseudoFakePair:
        table = self.bank.neighbours(self.k_neighbours, self.n_candidates, self.seed, self.cache_dir)
        bg = self.bank.frames[index]
        lm = self.bank.landmarks[index][:68]
        h, w = bg.shape[:2]
        if self.train:
            jit = augment.draw_colour_jitter(rng, p_shift=0.3, shift=20, p_bc=0.5, brightness=0.1,
                                             contrast=0.1, p_jpeg=0.5)
            bg = jit.apply(bg)
            if rng.random() < 0.3:
                bg = cv2.GaussianBlur(bg, (0, 0), float(rng.uniform(0.5, 1.5)))
        cands = table[index][table[index] >= 0]
        if cands.size == 0:
            raise NeighbourSearchError(f"frame {index} has no neighbour from another video")
        fg_idx = int(cands[int(rng.integers(cands.size))])
        fg = self.bank.frames[fg_idx]
        if fg.shape[:2] != (h, w):
            fg = cv2.resize(fg, (w, h), interpolation=cv2.INTER_LINEAR)
        s = rng.uniform(*self.resize_range)
        sh, sw = max(32, int(h * s)), max(32, int(w * s))
        bg_s = cv2.resize(bg, (sw, sh), interpolation=cv2.INTER_AREA)
        fg_s = cv2.resize(fg, (sw, sh), interpolation=cv2.INTER_AREA)
        lm_s = lm * np.array([sw / w, sh / h], np.float32)
        weight = np.zeros((sh, sw), np.float32)
        hull = "none"
        for _ in range(self.max_tries):
            m, hull = random_hull_mask((sh, sw), lm_s, rng, self.hull_types)
            m = augment.piecewise_warp(m, rng)
            m = augment.erode_or_dilate(m, rng)
            if m.max() > 0:
                weight = feather_weights(m)
                fg_s = colour_transfer(fg_s, bg_s, m)
                break
        fake = blend(bg_s, fg_s, weight)
        back = (w, h)
        real = cv2.resize(bg_s, back, interpolation=cv2.INTER_LINEAR)
        fake = cv2.resize(fake, back, interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(weight, back, interpolation=cv2.INTER_LINEAR)
        if self.train and rng.random() < 0.5:
            # Down/up resampling shared by real and fake: hides the resolution of the blend.
            d = rng.uniform(0.25, 1.0)
            interp = cv2.INTER_LINEAR if rng.random() < 0.5 else cv2.INTER_NEAREST
            small = (max(16, int(w * d)), max(16, int(h * d)))
            real = cv2.resize(cv2.resize(real, small, interpolation=interp), back, interpolation=cv2.INTER_LINEAR)
            fake = cv2.resize(cv2.resize(fake, small, interpolation=interp), back, interpolation=cv2.INTER_LINEAR)
        info = {"method": "bi", "hull": hull, "foreground": fg_idx, "ratio": 1.0}
        return self._finish(real, fake, mask, rng, info)
