"""Generic binary crop-classification data: the Dataset protocol, three sources, held-out
validation by video, collation and the per-sample training jitter.

Shared by every family that trains a frame classifier on face crops (RECCE,
:mod:`dfbench.training.classifier`).

**Protocol.** Any ``torch.utils.data.Dataset`` whose ``__getitem__(i)`` returns
``(image, label)``: ``image`` a uint8 tensor ``[3, H, W]`` (RGB; a numpy ``[H, W, 3]`` array is
accepted too) and ``label`` an int, 1 = fake. Crops of another size are resized to the variant's
input size in the collate step. Optionally the dataset has ``groups: list[str]`` (one video key
per sample) so a validation fraction can be held out by video rather than by frame (frames of one
video in both train and val would make early stopping optimistic).

**Sources** (``data.train`` / ``data.val`` in a config):

- a folder ``<root>/<split>/{real,fake}/*.{png,jpg}`` (or ``<root>/{real,fake}`` without splits);
- ``"module:factory"``, called as ``factory(split=..., size=..., **data.options)``;
- ``"dfbench:<dataset>"``: a registered dfbench dataset, cropped through the evaluation path
  (:func:`dfbench.training.data.frame_crops`; see :func:`registry_crops`).

**Jitter.** Horizontal flips plus mild zoom/shift and colour jitter (:func:`augment_batch`),
drawn per sample from (seed, epoch, index) so whichever process or step holds a sample draws the
same, and a resumed run replays the uninterrupted one. The official recipes of the crop
classifiers only flip, which is enough for FF++'s thousands of videos; the demo dataset has a
few dozen videos made from a handful of faces, and without geometric and photometric jitter a
model trained from scratch memorises each video's framing and colour cast instead of the
blending and resampling traces. No blur, noise or re-compression on purpose: those would erase
exactly the evidence some forgeries leave (the demo's ``lowres`` fakes *are* a blur).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Subset

from ..specs import load_object
from .data import TrainingDataError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass
class AugmentConfig:
    """Per-sample jitter of training batches (see :func:`augment_batch`); 0 = off."""

    scale: float = 0.0          # zoom factor in 1 +- scale
    shift: float = 0.0          # translation up to this fraction of the side
    colour: float = 0.0         # brightness / contrast / saturation factors in 1 +- colour

    @property
    def active(self) -> bool:
        return self.scale > 0 or self.shift > 0 or self.colour > 0

    def check(self, where: str = "data.augment") -> None:
        if not (0 <= self.scale < 1 and 0 <= self.shift < 0.5 and 0 <= self.colour < 1):
            from .config import ConfigError

            raise ConfigError(f"{where} needs 0 <= scale < 1, 0 <= shift < 0.5 and 0 <= colour < 1, got {self}")


@dataclass
class CropDataConfig:
    """The ``data`` section of every crop-classifier config (RECCE, the generic classifier task);
    a family subclasses it to change defaults."""

    train: str = ""
    """Training data: a folder (``<root>/<split>/{real,fake}/*``), ``"module:factory"`` or
    ``"dfbench:<dataset>"``."""
    val: str = ""
    """Validation data (same forms); empty = the same source as ``train`` with ``val_split``."""
    train_split: str = "train"
    val_split: str = "val"
    val_fraction: float = 0.0
    """Hold out this fraction of the training *videos* (by key) for selection (0: use ``val_split``)."""
    options: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the source (``frames_per_video`` for ``dfbench:``, a factory's own)."""
    num_workers: int = 0
    hflip: float = 0.5
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def check(self) -> None:
        """Value ranges, and a selection split that is never the test split."""
        from .config import ConfigError
        from .data import check_selection_split

        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"data.val_fraction must lie in [0, 1), got {self.val_fraction}")
        self.augment.check()
        try:
            check_selection_split(None if self.val_fraction else self.val_split,
                                  train_split=self.train_split, where="data.val_split")
        except TrainingDataError as e:
            raise ConfigError(f"{e} (or set data.val_fraction to hold out part of train)") from None


class FolderDataset(Dataset):
    """Face crops in ``<root>/[<split>/]{real,fake}/*``; label 1 = fake. Decoded lazily with OpenCV."""

    def __init__(self, root: str | Path, split: str | None = None) -> None:
        base = Path(root).expanduser()
        if split and (base / split).is_dir():
            base = base / split
        elif split and not (base / "real").is_dir():
            raise TrainingDataError(f"{root}: no '{split}' split folder and no real/ fake/ folders. "
                                    f"Lay crops out as {root}/{split}/real/*.png and {root}/{split}/fake/*.png.")
        self.items: list[tuple[Path, int]] = []
        for label, name in ((0, "real"), (1, "fake")):
            folder = base / name
            if folder.is_dir():
                self.items += [(p, label) for p in sorted(folder.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]
        if not self.items:
            raise TrainingDataError(f"no images under {base}/real or {base}/fake")
        # Files named <video>_<frame>.png group by video for held-out validation fractions.
        self.groups = [f"{lab}/{p.parent.name}/{p.stem.rsplit('_', 1)[0]}" for p, lab in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        import cv2

        path, label = self.items[i]
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise TrainingDataError(f"cannot read image {path}")
        return torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1])).permute(2, 0, 1), label


class ArrayDataset(Dataset):
    """In-memory crops: uint8 ``[N, 3, H, W]``, labels ``[N]``, optional per-sample group keys."""

    def __init__(self, images: torch.Tensor | np.ndarray, labels: Sequence[int], groups: Sequence[str] | None = None):
        self.images = torch.as_tensor(images)
        self.labels = [int(v) for v in labels]
        self.groups = list(groups) if groups is not None else [str(i) for i in range(len(self.labels))]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], self.labels[i]


def registry_crops(split: str, input_spec: Any, dataset: str = "demo", data_root: str | None = None,
                   frames_per_video: int = 8, cache_dir: str | None = None, limit: int = 0,
                   dataset_options: dict | None = None) -> ArrayDataset:
    """Face crops of a registered dfbench dataset split, held in memory, made exactly as
    evaluation makes them for ``input_spec`` (the variant's cropper and crop settings, the
    dataset index and root resolution, the shared crop cache); ``frames_per_video`` evenly
    spaced frames per video. Videos whose faces cannot be found are skipped (logged)."""
    from .data import frame_crops

    images, labels, keys = frame_crops(dataset, split, input_spec, data_root=data_root, options=dataset_options,
                                       frames_per_video=frames_per_video, cache_dir=cache_dir, limit=limit)
    return ArrayDataset(images, labels, keys)


def open_source(source: str, split: str, input_spec: Any, options: dict[str, Any] | None = None) -> Dataset:
    """A config's data source string -> a Dataset (see the module docstring for the forms)."""
    options = dict(options or {})
    size = int(input_spec.size)
    if not source:
        raise TrainingDataError("no training data configured: set data.train to a folder, "
                                "'module:factory' or 'dfbench:<dataset>'")
    if source.startswith("dfbench:"):
        bad = sorted(set(options) & {"cropper", "crop_settings", "size"})
        if bad:
            raise TrainingDataError(f"data.options {bad}: training crops are the variant's evaluation crops; "
                                    f"change the variant's input spec instead")
        return registry_crops(split, input_spec, dataset=source.split(":", 1)[1], **options)
    if ":" in source and not Path(source).exists():
        return load_object(source)(split=split, size=size, **options)
    return FolderDataset(source, split)


def split_by_group(ds: Dataset, fraction: float, seed: int = 0) -> tuple[Subset, Subset]:
    """Hold out ``fraction`` of the groups (videos) of ``ds`` as validation, deterministically,
    stratified by label (the core's rule, :func:`dfbench.training.data.holdout_keys`)."""
    from .data import holdout_keys

    groups = list(getattr(ds, "groups", [str(i) for i in range(len(ds))]))
    labels = [int(ds[i][1]) for i in range(len(ds))] if not hasattr(ds, "labels") else list(ds.labels)
    held = holdout_keys(groups, fraction, seed, labels)
    train_idx = [i for i, g in enumerate(groups) if g not in held]
    val_idx = [i for i, g in enumerate(groups) if g in held]
    return Subset(ds, train_idx), Subset(ds, val_idx)


def collate(size: int):
    """Collate ``(image, label)`` pairs into uint8 ``[B, 3, size, size]`` and int64 labels."""

    def fn(batch: list[tuple[Any, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        imgs = []
        for img, _ in batch:
            t = torch.as_tensor(img)
            if t.ndim == 3 and t.shape[-1] == 3 and t.shape[0] != 3:
                t = t.permute(2, 0, 1)
            if t.shape[-2:] != (size, size):
                t = F.interpolate(t[None].float(), size=(size, size), mode="bilinear", antialias=True,
                                  align_corners=False)[0].round().clamp(0, 255).to(torch.uint8)
            imgs.append(t.to(torch.uint8))
        labels = torch.tensor([int(lab) for _, lab in batch], dtype=torch.int64)
        return torch.stack(imgs), labels

    return fn


# ---------------------------------------------------------------------------------------------
# Training jitter


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """uint8 or float ``[B, 3, H, W]`` in [0, 255] -> float32 in [0, 255], jittered per sample.

    Geometry: zoom by ``1 ± cfg.scale`` and shift by up to ``cfg.shift`` of the side (one affine
    resample, reflection padding so no black borders appear, which would be a label-free cue the
    evaluation crops never show). Colour: brightness, contrast and saturation factors in
    ``1 ± cfg.colour``. Identity when every amplitude is 0 (no resampling at all then).
    """
    x = x.float()
    b = x.shape[0]
    if cfg.scale > 0 or cfg.shift > 0:
        zoom = _uniform(b, 1.0 - cfg.scale, 1.0 + cfg.scale, gen)
        tx = _uniform(b, -cfg.shift, cfg.shift, gen) * 2.0   # affine_grid works in [-1, 1] units
        ty = _uniform(b, -cfg.shift, cfg.shift, gen) * 2.0
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0] = 1.0 / zoom
        theta[:, 1, 1] = 1.0 / zoom
        theta[:, 0, 2] = tx
        theta[:, 1, 2] = ty
        grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if cfg.colour > 0:
        c = cfg.colour
        bright = _uniform(b, 1 - c, 1 + c, gen).view(b, 1, 1, 1).to(x.device)
        contrast = _uniform(b, 1 - c, 1 + c, gen).view(b, 1, 1, 1).to(x.device)
        sat = _uniform(b, 1 - c, 1 + c, gen).view(b, 1, 1, 1).to(x.device)
        x = x * bright
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * contrast + mean
        grey = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
        x = (x - grey) * sat + grey
    return x.clamp(0.0, 255.0)


def jitter_samples(images: torch.Tensor, indices: Sequence[int], *, seed: int, epoch: int, hflip: float,
                   augment: AugmentConfig) -> torch.Tensor:
    """A training batch's per-sample flip and jitter, each sample's draws from (seed, epoch, index):
    the same whichever process or step holds it. Unchanged (uint8) when nothing is switched on;
    float in [0, 255] after jitter (:meth:`dfbench.detector.Detector.normalise` takes both)."""
    if hflip <= 0 and not augment.active:
        return images
    rows = []
    for row, i in zip(images, indices, strict=True):
        g = torch.Generator().manual_seed(seed * 7919 + epoch * 1_000_003 + int(i) * 31)
        x = row[None]
        if torch.rand(1, generator=g).item() < hflip:
            x = x.flip(-1)
        rows.append(augment_batch(x, augment, g) if augment.active else x)
    return torch.cat(rows)


class CropDataMixin:
    """The data half of a crop-classification :class:`~dfbench.training.task.Task`: sources from
    ``config.data`` (``train``/``val``/``train_split``/``val_split``/``val_fraction``/``options``),
    held-out videos by group, collate to the detector's input size, and the per-sample jitter
    (``hflip``, ``augment``) seeded by ``config.seed`` — shared by RECCE and the generic classifier.
    Datasets given to the task's constructor (``self._given``) take precedence over the config."""

    _given: tuple[Any, Any] = (None, None)

    def datasets(self):
        c, d = self.config, self.config.data
        spec = self.detector.input_spec
        train_ds, val_ds = self._given
        if train_ds is None:
            train_ds = open_source(d.train, d.train_split, spec, d.options)
        if val_ds is None:
            if d.val_fraction > 0:
                train_ds, val_ds = split_by_group(train_ds, d.val_fraction, c.seed)
            else:
                val_ds = open_source(d.val or d.train, d.val_split, spec, d.options)
        return train_ds, val_ds

    def collate(self, items):
        x, y = collate(int(self.detector.input_spec.size))(items)
        return {"images": x, "labels": y}

    def load_batch(self, dataset, indices, epoch, step):
        batch = self.collate([dataset[i] for i in indices])
        d = self.config.data
        batch["images"] = jitter_samples(batch["images"], indices, seed=self.config.seed, epoch=epoch,
                                         hflip=d.hflip, augment=d.augment)
        return batch


__all__ = ["ArrayDataset", "AugmentConfig", "CropDataMixin", "FolderDataset", "TrainingDataError", "augment_batch", "collate",
           "jitter_samples", "open_source", "registry_crops", "split_by_group"]
