"""Training data for RECCE: the Dataset protocol the trainer needs, and three ways to get one.

**Protocol.** Any ``torch.utils.data.Dataset`` whose ``__getitem__(i)`` returns
``(image, label)``: ``image`` a uint8 tensor ``[3, H, W]`` (RGB; a numpy ``[H, W, 3]`` array is
accepted too) and ``label`` an int, 1 = fake. Crops of another size are resized to the variant's
input size in the collate step. Optionally the dataset has ``groups: list[str]`` (one video key
per sample) so a validation fraction can be held out by video rather than by frame (frames of one
video in both train and val would make early stopping optimistic).

**Sources** (``data.train`` / ``data.val`` in the config):

- a folder ``<root>/<split>/{real,fake}/*.{png,jpg}`` (or ``<root>/{real,fake}`` without splits);
- ``"module:factory"``, called as ``factory(split=..., size=..., **data.options)``;
- ``"dfbench:<dataset>"``: a registered dfbench dataset, cropped through the training core's
  evaluation path (:func:`dfbench.training.data.frame_crops`; see :func:`registry_crops`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Subset

from dfbench.errors import DfbenchError
from dfbench.specs import load_object

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


class TrainingDataError(DfbenchError):
    """A training data source is missing, empty or malformed."""


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
    from dfbench.training.data import frame_crops

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
    from dfbench.training.data import holdout_keys

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
