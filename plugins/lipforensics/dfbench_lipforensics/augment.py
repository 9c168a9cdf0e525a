"""Training-time clip augmentation for LipForensics: random crops, mirroring, time offsets.

Lip-reading training (and LipForensics' own fine-tuning) augments with random 88-px crops of the
96-px mouth patch and horizontal flips; on a dataset of a few dozen short videos, cutting 25-frame
windows at random starts instead of only at frames 0, 25, ... multiplies the distinct training
clips by ~13. Validation never sees augmentation: it gets the centre crop of the fixed clips, i.e.
exactly what evaluation feeds the model.

Every random draw is a pure function of ``(seed, epoch, batch)`` so that a run resumed after a kill
replays the uninterrupted one exactly (the trainer's contract).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .config import AugmentConfig
from .data import ClipsInMemory


class ClipSampler:
    """Cuts model-sized uint8 clips ``[B, T, 1, size, size]`` out of a :class:`ClipsInMemory`.

    ``ds`` may hold crops larger than ``size`` (prepared with ``augment.crop`` pixels of margin):
    training batches take a random window of ``size``, validation batches the centre one.
    """

    def __init__(self, ds: ClipsInMemory, size: int, cfg: AugmentConfig) -> None:
        if not isinstance(ds, ClipsInMemory):
            raise TypeError(
                f"augmentation needs the training clips as a ClipsInMemory, got {type(ds).__name__}"
                "; build it with clip_dataset_from_crops() or turn the augment options off"
            )
        h, w = ds.clips.shape[-2:]
        if h < size or w < size:
            raise ValueError(f"clips are {h}x{w} px, smaller than the model input {size}")
        self.ds, self.size, self.cfg = ds, int(size), cfg
        self.clip_length = int(ds.clips.shape[1])
        self._runs: list[np.ndarray] = []
        self._run_of: np.ndarray | None = None
        if cfg.time_offset:
            self._build_runs()

    def __len__(self) -> int:
        return len(self.ds)

    def _build_runs(self) -> None:
        """Join clips of one video that follow each other without a gap into frame runs."""
        if self.ds.starts is None:
            raise ValueError(
                "augment.time_offset needs the first frame of each clip (ClipsInMemory(starts=...));"
                " prepared_split and clip_dataset_from_crops record them — rebuild the clip cache"
            )
        L = self.clip_length
        by_video: dict[str, list[int]] = {}
        for i, key in enumerate(self.ds.video_keys):
            by_video.setdefault(key, []).append(i)
        run_of = np.empty(len(self.ds), np.int64)
        for idx in by_video.values():
            idx.sort(key=lambda i: int(self.ds.starts[i]))
            run: list[int] = []
            for i in idx:
                if run and int(self.ds.starts[i]) != int(self.ds.starts[run[-1]]) + L:
                    self._close_run(run, run_of)
                    run = []
                run.append(i)
            self._close_run(run, run_of)
        self._run_of = run_of

    def _close_run(self, run: list[int], run_of: np.ndarray) -> None:
        run_of[run] = len(self._runs)
        self._runs.append(np.concatenate([self.ds.clips[i] for i in run]))

    def _window(self, i: int, rng: np.random.Generator) -> np.ndarray:
        if self._run_of is None:
            return self.ds.clips[i]
        frames = self._runs[self._run_of[i]]
        start = int(rng.integers(0, len(frames) - self.clip_length + 1))
        return frames[start : start + self.clip_length]

    def train_batch(self, indices: Sequence[int], seed: Sequence[int]) -> torch.Tensor:
        """Augmented clips for ``indices``; ``seed`` (e.g. ``(run seed, epoch, batch)``) fixes
        every random choice."""
        rng = np.random.default_rng([int(s) for s in seed])
        h, w = self.ds.clips.shape[-2:]
        out = np.empty((len(indices), self.clip_length, 1, self.size, self.size), np.uint8)
        for j, i in enumerate(indices):
            clip = self._window(int(i), rng)
            # One crop offset and one flip per clip, shared by all its frames: the motion between
            # frames is the signal, so it must not be disturbed by per-frame jitter.
            y = int(rng.integers(0, h - self.size + 1))
            x = int(rng.integers(0, w - self.size + 1))
            clip = clip[..., y : y + self.size, x : x + self.size]
            if self.cfg.hflip and rng.random() < self.cfg.hflip:
                clip = clip[..., ::-1]
            out[j] = clip
        return torch.from_numpy(out)

    def eval_batch(self, start: int, stop: int) -> torch.Tensor:
        """The centre crops of clips ``start:stop`` — the evaluation crop, no augmentation."""
        return torch.from_numpy(
            np.ascontiguousarray(centre_crop(self.ds.clips[start:stop], self.size))
        )


def centre_crop(clips: np.ndarray, size: int) -> np.ndarray:
    """Centre ``size`` x ``size`` window of ``[..., H, W]`` (the mouth cropper's own 96 -> 88 cut:
    offset ``(H - size) // 2``)."""
    h, w = clips.shape[-2:]
    y, x = (h - size) // 2, (w - size) // 2
    return clips[..., y : y + size, x : x + size]
