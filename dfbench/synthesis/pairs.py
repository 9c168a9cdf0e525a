"""Pseudo-fake training data: real face videos -> per-epoch frame samples -> (real, fake) pairs.

The input is a list of :class:`FaceVideo` (per video: real face crops with landmarks in crop
coordinates), from a registered dataset through the training core's evaluation path
(:func:`dfbench.synthesis.sources.load_training_videos`), an ``.npz`` folder or the offline
portraits. Every epoch, ``frames_per_video`` frames are drawn per video *without* replacement with
a per-epoch seed (the official SBI loader re-uses its start-up choice for all epochs, and its
sampler draws with replacement). Every item's synthesis uses its own generator seeded by
``(seed, epoch, index)``, so a sample does not depend on the worker that makes it, on the number
of processes, or on whether training was resumed.

A family adds its own per-pair targets with ``PairDataset(..., targets=fn)`` (LAA-Net: its
heatmap and consistency maps, ``dfbench_laanet.pairs``); the pairs themselves are shared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..training.data import TrainingDataError, holdout_keys
from ..training.task import RunSettings, SelectionRule
from .bi import BIGenerator, FaceBank
from .sbi import PseudoFakePair, SBIGenerator

log = logging.getLogger(__name__)


@dataclass
class FaceVideo:
    """The real face crops of one video (uint8 ``[H, W, 3]`` RGB) and their landmarks ``[K, 2]``."""

    key: str
    frames: list[np.ndarray]
    landmarks: list[np.ndarray]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.frames) != len(self.landmarks):
            raise TrainingDataError(f"video {self.key}: {len(self.frames)} frames but "
                                    f"{len(self.landmarks)} landmark sets")


def load_npz_dir(path: str | Path) -> list[FaceVideo]:
    """One ``.npz`` per video with ``crops`` ``[N, H, W, 3]`` uint8 and ``landmarks`` ``[N, K, 2]``."""
    root = Path(path)
    files = sorted(root.glob("*.npz"))
    if not files:
        raise TrainingDataError(f"no .npz videos in {root}; each needs arrays 'crops' and 'landmarks'")
    out = []
    for f in files:
        with np.load(f) as z:
            if "crops" not in z or "landmarks" not in z:
                raise TrainingDataError(f"{f} lacks 'crops' or 'landmarks'")
            out.append(FaceVideo(f.stem, list(z["crops"]), list(z["landmarks"].astype(np.float32))))
    return out


def save_npz_dir(videos: Sequence[FaceVideo], path: str | Path) -> Path:
    """Write videos in the format :func:`load_npz_dir` reads."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    for v in videos:
        name = v.key.replace("/", "__")
        np.savez(root / f"{name}.npz", crops=np.stack(v.frames), landmarks=np.stack(v.landmarks))
    return root


def portrait_videos(n_videos: int, frames: int = 8, size: int = 256, seed: int = 0) -> list[FaceVideo]:
    """``n_videos`` short jittered videos of the offline portraits (tests and smoke runs)."""
    from .faces import demo_faces, jittered_frames

    faces = demo_faces(size)
    out = []
    for v in range(n_videos):
        img, lm = faces[v % len(faces)]
        if (v // len(faces)) % 2 == 1:  # mirrored copy: another "recording"
            img = np.ascontiguousarray(img[:, ::-1])
            lm = lm.copy()
            lm[:, 0] = size - 1 - lm[:, 0]
        fr = jittered_frames(img, lm, frames, seed=seed * 1000 + v)
        out.append(FaceVideo(f"portrait/{v:03d}", [f for f, _ in fr], [m for _, m in fr]))
    return out


def make_generator(method: str, videos: Sequence[FaceVideo], out_size: int, train: bool,
                   bi_neighbours: int = 30, bi_candidates: int | None = 10_000,
                   cache_dir: str | None = None, seed: int = 0) -> Callable:
    """``gen(video_index, frame_index, rng) -> PseudoFakePair`` for ``sbi`` or ``bi``."""
    if method == "sbi":
        sbi = SBIGenerator(out_size=out_size, train=train)

        def gen_sbi(v: int, f: int, rng: np.random.Generator) -> PseudoFakePair:
            return sbi(videos[v].frames[f], videos[v].landmarks[f], rng)

        return gen_sbi
    if method == "bi":
        bank = FaceBank.from_videos([list(zip(v.frames, v.landmarks, strict=True)) for v in videos])
        offsets = np.cumsum([0] + [len(v.frames) for v in videos])
        bi = BIGenerator(bank, out_size=out_size, train=train, k_neighbours=bi_neighbours,
                         n_candidates=bi_candidates, cache_dir=cache_dir, seed=seed)
        bank.neighbours(bi_neighbours, bi_candidates, seed, cache_dir)  # search once, up front

        def gen_bi(v: int, f: int, rng: np.random.Generator) -> PseudoFakePair:
            return bi(int(offsets[v] + f), rng)

        return gen_bi
    raise TrainingDataError(f"unknown pseudo-fake method {method!r}; choose 'sbi' or 'bi'")


class PairDataset(Dataset):
    """Items are real/fake pairs (``real``, ``fake``: uint8 ``[3, S, S]``) plus whatever
    ``targets(pair)`` adds (a dict of tensors); call :meth:`set_epoch` before each epoch."""

    def __init__(self, videos: Sequence[FaceVideo], generator: Callable, frames_per_video: int,
                 seed: int = 0, train: bool = True,
                 targets: Callable[[PseudoFakePair], dict[str, torch.Tensor]] | None = None) -> None:
        if not videos or not any(len(v.frames) for v in videos):
            raise TrainingDataError("no training faces: the source gave no video with a face")
        self.videos = list(videos)
        self.generator = generator
        self.frames_per_video = int(frames_per_video)
        self.seed = int(seed)
        self.train = train
        self.targets = targets
        self.epoch = -1
        self.items: list[tuple[int, int]] = []
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's frames (validation: the same frames every epoch)."""
        epoch = int(epoch) if self.train else 0
        if epoch == self.epoch:
            return
        self.epoch = epoch
        rng = np.random.default_rng([self.seed, epoch, 0x5EED])
        items = []
        for v, video in enumerate(self.videos):
            n = len(video.frames)
            if n == 0:
                continue
            k = self.frames_per_video
            picks = rng.choice(n, size=k, replace=False) if n >= k else rng.choice(n, size=k, replace=True)
            items.extend((v, int(f)) for f in np.sort(picks))
        order = rng.permutation(len(items)) if self.train else np.arange(len(items))
        self.items = [items[i] for i in order]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        v, f = self.items[index]
        rng = np.random.default_rng([self.seed, self.epoch, int(index), 1])
        pair = self.generator(v, f, rng)
        item = {"real": torch.from_numpy(np.ascontiguousarray(pair.real)).permute(2, 0, 1),
                "fake": torch.from_numpy(np.ascontiguousarray(pair.fake)).permute(2, 0, 1)}
        if self.targets is not None:
            item.update(self.targets(pair))
        return item


def collate_pairs(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack pairs into one batch: the reals, then their fakes (labels 0 then 1).

    No shuffling inside the batch: every loss term and (global) BatchNorm statistic is invariant
    to the order, and keeping pair i at rows i and B+i lets micro-batching keep pairs together.
    Per-pair targets (the other keys) are stacked too, the reals' set to zero.
    """
    real = torch.stack([it["real"] for it in items])
    fake = torch.stack([it["fake"] for it in items])
    b = real.shape[0]
    out = {"images": torch.cat([real, fake]), "labels": torch.cat([torch.zeros(b), torch.ones(b)])}
    for key in items[0]:
        if key not in ("real", "fake"):
            t = torch.stack([it[key] for it in items])
            out[key] = torch.cat([torch.zeros_like(t), t])
    return out


def holdout(videos: Sequence[FaceVideo], fraction: float, seed: int = 0) -> tuple[list[FaceVideo], list[FaceVideo]]:
    """Split videos into (train, validation) by video with the core's rule
    (:func:`dfbench.training.data.holdout_keys`): deterministic, whatever the listing order."""
    held = holdout_keys([v.key for v in videos], fraction, seed)
    return [v for v in videos if v.key not in held], [v for v in videos if v.key in held]


def pair_run_settings(config) -> RunSettings:
    """The core loop's settings for a task trained on real/pseudo-fake pairs (LAA-Net, SBI): the
    ``run``/``data`` config sections mapped once, selection on held-out AUC, no core shuffle."""
    r, d = config.run, config.data
    return RunSettings(out_dir=r.out_dir, seed=r.seed, epochs=r.epochs, batch_size=r.batch_size,
                       accum_steps=r.accum_steps, steps_per_epoch=r.steps_per_epoch, precision=r.precision,
                       device=r.device, threads=r.threads, sync_bn=r.sync_bn, log_every=r.log_every,
                       tensorboard=r.tensorboard, num_workers=d.num_workers, selection=SelectionRule("val_auc"),
                       shuffle=False)  # PairDataset.set_epoch draws and shuffles the epoch's frames
