"""Face crops of a dataset split as training data, through the evaluation pipeline.

Trainers (``dfbench laanet train``, ``dfbench recce train``, ``dfbench lipforensics train``) read
their data here so that training sees exactly the crops evaluation sees (same sampler, cropper,
recipe and crop cache). Videos that fail (unreadable, no face) are skipped and counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .specs import InputSpec

log = logging.getLogger(__name__)


@dataclass
class VideoCrops:
    """All crops of one video: ``units`` uint8 ``[N, C, S, S]`` (frames) or ``[N, T, C, S, S]`` (clips)."""

    key: str
    label: int
    method: str
    units: np.ndarray
    frame_index: list[int]
    landmarks: list[np.ndarray | None]


def load_split_crops(dataset: str, split: str, input_spec: InputSpec, *, data_root: str | Path | None = None,
                     options: dict | None = None, frames_per_video: int | None = None,
                     labels: tuple[int, ...] = (0, 1), use_cache: bool = True, cache_dir: str | Path | None = None,
                     progress: bool = True, limit: int | None = None) -> tuple[list[VideoCrops], dict[str, str]]:
    """Crops of every video of ``dataset``/``split`` with a label in ``labels``.

    Returns (videos, failures by key). ``frames_per_video`` overrides the spec's sampling (LAA-Net
    extracts more frames for training than for testing).
    """
    from .indexing import resolve_dataset_items
    from .pipeline import FaceStage
    from .registry import get_registry
    from .runner import _build_cropper, _open_cache

    reg = get_registry()
    spec, items, _ = resolve_dataset_items(dataset, split, data_root=data_root, options=options, registry=reg)
    items = [it for it in items if it.label in labels]
    if limit is not None:
        items = items[:limit]
    if frames_per_video is not None:
        input_spec = replace(input_spec, frames_per_video=frames_per_video)
    cname = "precropped" if spec.precropped else input_spec.cropper
    cspec = reg.cropper(cname)
    settings = {**cspec.defaults, **dict(input_spec.crop_settings)}
    cropper = _build_cropper(cspec, settings)
    max_frames = (options or {}).get("max_frames")
    cache = _open_cache(cache_dir, spec, cname, settings, cropper, input_spec, max_frames) if use_cache and not spec.precropped else None
    stage = FaceStage(input_spec, cropper, missing_face="skip", cache=cache, max_frames=max_frames)
    videos, failures = [], {}
    it_items: Any = items
    if progress:
        from tqdm.auto import tqdm

        it_items = tqdm(items, desc=f"crops {spec.name}/{split}", unit="video")
    for it in it_items:
        pv = stage.prepare(it)
        if pv.failure is not None:
            failures[it.key] = pv.failure
            continue
        videos.append(VideoCrops(it.key, it.label, it.method, pv.units, list(pv.unit_index),
                                 list(pv.unit_landmarks) or [None] * len(pv.units)))
    if cache is not None and hasattr(cache, "flush"):
        cache.flush()
    if failures:
        log.warning("%d of %d videos gave no crops (first: %s)", len(failures), len(items), next(iter(failures.items())))
    return videos, failures


class CropDataset:
    """A ``torch.utils.data.Dataset`` of ``(unit uint8 tensor, label)`` over :class:`VideoCrops`.

    Frame units give ``[C, S, S]``, clip units ``[T, C, S, S]``; pass ``transform`` to augment.
    """

    def __init__(self, videos: list[VideoCrops], transform=None):
        self.index = [(v, j) for v in videos for j in range(len(v.units))]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        import torch

        v, j = self.index[i]
        x = torch.from_numpy(np.ascontiguousarray(v.units[j]))
        if self.transform is not None:
            x = self.transform(x)
        return x, v.label
