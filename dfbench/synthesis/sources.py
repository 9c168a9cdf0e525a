"""Real training faces for pseudo-fake training (LAA-Net, SBI): videos of a source, as crops
with landmarks.

A registered dataset is read through the training core's evaluation path
(:mod:`dfbench.training.data`: the dataset index and root resolution, the variant's cropper, the
shared crop cache) at ``data.crop_size``, so training crops are evaluation crops by construction;
``npz:DIR`` and ``faces:N`` (offline portraits) serve tests and custom data.

``cfg`` is a family's training config with a ``data`` section carrying ``source``,
``train_split``, ``val_split``, ``frames_per_video``, ``crop_size``, ``data_root``, ``cache_dir`` and
``extract_frames`` (LAA-Net's and SBI's ``DataConfig``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..training.runtime import TrainingError

log = logging.getLogger(__name__)


def load_training_videos(cfg: Any, split: str, input_spec: Any = None):
    """Real face videos of ``split`` from ``cfg.data.source``; ``holdout:F`` as the validation
    split holds out a fraction F of the training split's videos (by video) for selection."""
    from ..training.data import parse_holdout
    from .pairs import holdout

    d = cfg.data
    frac = parse_holdout(d.val_split)
    if frac is not None and split in (d.train_split, d.val_split):
        train_v, val_v = holdout(_load_split(cfg, d.train_split, input_spec), frac)
        return val_v if split == d.val_split else train_v
    return _load_split(cfg, split, input_spec)


def _load_split(cfg: Any, split: str, input_spec: Any):
    from . import pairs as ds

    d = cfg.data
    kind, _, arg = d.source.partition(":")
    if kind == "faces":
        return ds.portrait_videos(int(arg or 4), frames=max(d.frames_per_video, 4), size=d.crop_size,
                                  seed=0 if split == d.train_split else 1)
    if kind == "npz":
        return ds.load_npz_dir(Path(arg) / split if (Path(arg) / split).is_dir() else Path(arg))
    if kind == "dataset":
        if input_spec is None:
            raise TrainingError("data.source dataset:NAME needs the detector's input spec (its cropper)")
        return _dataset_videos(cfg, arg, split, input_spec)
    raise TrainingError(f"unknown data.source {d.source!r}: use dataset:NAME, npz:DIR or faces:N")


def _dataset_videos(cfg: Any, name: str, split: str, input_spec: Any):
    """The real videos of a registered dataset as crops + landmarks, through the evaluation path
    (index, root resolution, the variant's cropper, the shared crop cache) at ``data.crop_size``."""
    from ..training.data import face_stage, prepared_videos, training_items
    from .pairs import FaceVideo

    d = cfg.data
    spec, items = training_items(name, split, data_root=d.data_root, labels=(0,))
    stage = face_stage(input_spec, spec, cache_dir=d.cache_dir, frames_per_video=d.extract_frames,
                       size=d.crop_size)
    out = []
    for pv in prepared_videos(items, stage):
        keep = [(u, lm) for u, lm in zip(pv.units, pv.unit_landmarks, strict=True) if lm is not None]
        if keep:
            out.append(FaceVideo(pv.item.key, [np.ascontiguousarray(u.transpose(1, 2, 0)) for u, _ in keep],
                                 [np.asarray(lm, np.float32) for _, lm in keep]))
    log.info("%s/%s: %d real videos with faces", name, split, len(out))
    return out

