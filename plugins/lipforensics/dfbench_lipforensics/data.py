"""Training data for LipForensics fine-tuning: the clip-dataset protocol and its builders.

Protocol (what :func:`dfbench_lipforensics.train.train` consumes) — any ``torch.utils.data.Dataset``
with ``__len__`` and ``__getitem__(i) -> (clip, label)`` where ``clip`` is a uint8 tensor
``[T, 1, H, W]`` (grey mouth crops, T = the variant's clip length) and ``label`` is 0 (real) or
1 (fake). Optionally ``video_keys`` (one globally unique video key per clip), so validation scores
videos the way evaluation does (mean clip logit per video) instead of clips.

Clips follow the evaluation protocol: non-overlapping runs of ``clip_length`` consecutive frames
from the start; a clip with a missing face is dropped; videos shorter than one clip contribute no
clip and are *counted* (``stats["short_videos"]``), never silently lost.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch.utils.data import Dataset

log = logging.getLogger(__name__)


@runtime_checkable
class ClipDataset(Protocol):
    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]: ...


class ClipsInMemory(Dataset):
    """Clips as one uint8 array ``[N, T, 1, H, W]`` with labels and the video key of each clip.

    ``starts`` (optional) is the index of each clip's first frame in its video; with it, clips of
    one video that follow each other without a gap form a contiguous run of frames, from which
    time-offset augmentation (:mod:`.augment`) cuts windows at any start.
    """

    def __init__(
        self,
        clips: np.ndarray,
        labels: Sequence[int],
        video_keys: Sequence[str],
        stats: dict[str, int] | None = None,
        starts: Sequence[int] | None = None,
    ) -> None:
        if clips.dtype != np.uint8 or clips.ndim != 5 or clips.shape[2] != 1:
            raise ValueError(
                f"clips must be uint8 [N, T, 1, H, W], got {clips.dtype} {clips.shape}"
            )
        if not len(clips) == len(labels) == len(video_keys):
            raise ValueError("clips, labels and video_keys must have the same length")
        if starts is not None and len(starts) != len(clips):
            raise ValueError("starts must give one frame index per clip")
        self.clips = clips
        self.labels = np.asarray(labels, dtype=np.int64)
        self.video_keys = list(video_keys)
        self.stats = dict(stats or {})
        self.starts = None if starts is None else np.asarray(starts, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.clips[index]), int(self.labels[index])

    def subset(self, indices: Sequence[int]) -> ClipsInMemory:
        idx = np.asarray(indices, dtype=np.int64)
        keys = [self.video_keys[i] for i in idx]
        return ClipsInMemory(
            self.clips[idx],
            self.labels[idx].tolist(),
            keys,
            # "videos" of a subset: the videos it holds clips of (the parent's failures stay).
            {**self.stats, "clips": len(idx), "videos": len(set(keys))},
            None if self.starts is None else self.starts[idx].tolist(),
        )

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        extra = {} if self.starts is None else {"starts": self.starts}
        np.savez(
            tmp,
            clips=self.clips,
            labels=self.labels,
            video_keys=np.array(self.video_keys),
            stats_keys=np.array(list(self.stats)),
            stats_values=np.array(list(self.stats.values()), dtype=np.int64),
            **extra,
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> ClipsInMemory:
        with np.load(path, allow_pickle=False) as z:
            stats = dict(zip(z["stats_keys"].tolist(), z["stats_values"].tolist(), strict=True))
            starts = z["starts"].tolist() if "starts" in z.files else None
            return cls(z["clips"], z["labels"].tolist(), z["video_keys"].tolist(), stats, starts)


def _grey_chw(crop: np.ndarray) -> np.ndarray:
    """One crop as ``[1, H, W]`` uint8: accepts ``[H, W]``, ``[H, W, 1]`` or ``[1, H, W]``."""
    if crop.ndim == 2:
        return crop[None]
    if crop.ndim == 3 and crop.shape[-1] == 1:
        return crop.transpose(2, 0, 1)
    if crop.ndim == 3 and crop.shape[0] == 1:
        return crop
    raise ValueError(f"expected a grey crop [H, W], [H, W, 1] or [1, H, W], got shape {crop.shape}")


def split_clips(
    crops: Sequence[np.ndarray | None],
    clip_length: int,
    max_frames: int = 0,
    starts: list[int] | None = None,
) -> tuple[list[np.ndarray], int]:
    """Non-overlapping clips ``[T, 1, H, W]`` from a video's per-frame crops (None = no face).

    Returns (clips, number of clips dropped because a frame had no face); the first frame of each
    kept clip is appended to ``starts`` when given.
    """
    if max_frames:
        crops = crops[:max_frames]
    clips, dropped = [], 0
    for start in range(0, len(crops) - clip_length + 1, clip_length):
        window = crops[start : start + clip_length]
        if any(c is None for c in window):
            dropped += 1
            continue
        clips.append(np.stack([_grey_chw(np.asarray(c)) for c in window]))
        if starts is not None:
            starts.append(start)
    return clips, dropped


def clip_dataset_from_crops(
    videos: Iterable[tuple[str, int, Sequence[np.ndarray | None] | np.ndarray]],
    clip_length: int = 25,
    max_frames: int = 0,
) -> ClipsInMemory:
    """Prepared mouth crops -> a :class:`ClipsInMemory`.

    ``videos`` yields ``(video_key, label, crops)`` with ``crops`` the per-frame grey crops of one
    video in frame order (an array ``[N, H, W]``/``[N, H, W, 1]``/``[N, 1, H, W]``, or a list with
    None where no face was found). ``max_frames`` keeps only the leading frames (FF++: 110).
    """
    clips: list[np.ndarray] = []
    starts: list[int] = []
    labels: list[int] = []
    keys: list[str] = []
    stats = {
        "videos": 0,
        "short_videos": 0,
        "videos_without_clip": 0,
        "clips_dropped_missing_face": 0,
    }
    shape = None
    for key, label, crops in videos:
        stats["videos"] += 1
        n = min(len(crops), max_frames) if max_frames else len(crops)
        if n < clip_length:
            stats["short_videos"] += 1
            log.info(
                "%s: %d frames < one %d-frame clip; it contributes no clip", key, n, clip_length
            )
            continue
        got_starts: list[int] = []
        got, dropped = split_clips(list(crops), clip_length, max_frames, got_starts)
        stats["clips_dropped_missing_face"] += dropped
        if not got:
            stats["videos_without_clip"] += 1
            continue
        shape = shape or got[0].shape
        for c in got:
            if c.shape != shape:
                raise ValueError(
                    f"{key}: clip shape {c.shape} differs from {shape}; crops must share one size"
                )
        clips += got
        starts += got_starts
        labels += [int(label)] * len(got)
        keys += [key] * len(got)
    if not clips:
        raise ValueError(f"no clip of {clip_length} frames could be built ({stats})")
    stats["clips"] = len(clips)
    return ClipsInMemory(np.stack(clips).astype(np.uint8, copy=False), labels, keys, stats, starts)


def prepared_split(
    data_cfg: Any, split: str, input_spec: Any, cache_dir: str | Path | None = None
) -> ClipsInMemory:
    """Index ``data_cfg.dataset``/``split`` and crop mouths exactly as evaluation does, through the
    training core (:mod:`dfbench.training.data`: dataset index and root resolution, the variant's
    cropper, the shared crop cache), then build clips. The clips are also cached as ``.npz`` in
    ``cache_dir`` so a resumed run does not even re-read the crop cache.

    ``input_spec.size`` sets the crop size: the trainer asks for a larger one (e.g. 96 for an
    88-px model) when ``augment.crop`` is on, and cuts the model's window from it.
    """
    from dfbench.training.data import face_stage, prepared_videos, training_items

    name = f"clips_{data_cfg.dataset}_{split}_{input_spec.size}px.npz"
    cache = Path(cache_dir) / name if cache_dir else None
    if cache is not None and cache.exists():
        return ClipsInMemory.load(cache)
    spec, items = training_items(data_cfg.dataset, split, data_root=data_cfg.data_root,
                                 options=dict(data_cfg.options), limit=data_cfg.limit)
    stage = face_stage(input_spec, spec, max_frames=data_cfg.max_frames or None)
    clips, labels, keys, starts = [], [], [], []
    stats = {"videos": len(items), "failed_videos": 0}
    for pv in prepared_videos(items, stage):
        clips.append(pv.units)
        labels += [pv.item.label] * len(pv.units)
        keys += [pv.item.key] * len(pv.units)
        starts += [int(i) for i in pv.unit_index]
    stats["failed_videos"] = len(items) - len({k for k in keys})
    if not clips:
        raise ValueError(f"{data_cfg.dataset}/{split}: no video produced a clip ({stats})")
    ds = ClipsInMemory(
        np.concatenate(clips).astype(np.uint8, copy=False),
        labels,
        keys,
        {**stats, "clips": len(keys)},
        starts,
    )
    if cache is not None:
        ds.save(cache)
    return ds


def holdout_split(
    ds: ClipsInMemory, fraction: float, seed: int = 0
) -> tuple[ClipsInMemory, ClipsInMemory]:
    """Split a training set into (train, validation) *by video*, stratified by label, with the
    core's rule (:func:`dfbench.training.data.holdout_keys`): for datasets without an official
    validation split (the demo has train/test only), selection never looks at the test split."""
    from dfbench.training.data import TrainingDataError, holdout_keys

    try:
        held = holdout_keys(ds.video_keys, fraction, seed, ds.labels.tolist())
    except TrainingDataError as e:
        raise ValueError(str(e).replace("held-out fraction", "holdout fraction")) from None
    tr = [i for i, k in enumerate(ds.video_keys) if k not in held]
    va = [i for i, k in enumerate(ds.video_keys) if k in held]
    return ds.subset(tr), ds.subset(va)


def npz_split(
    data_cfg: Any, split: str, input_spec: Any = None, cache_dir: str | Path | None = None
) -> ClipsInMemory:
    """Clips already on disk: ``{data_root}/clips_{split}.npz`` as written by :meth:`ClipsInMemory.save`
    (e.g. by a previous run's ``OUT_DIR/clips`` cache, or by your own preprocessing).
    Use with ``data.factory: dfbench_lipforensics.data:npz_split``."""
    if not data_cfg.data_root:
        raise ValueError("npz_split needs data.data_root: the directory holding clips_<split>.npz")
    path = Path(data_cfg.data_root) / f"clips_{split}.npz"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found; write it with ClipsInMemory.save() or point data.data_root at it"
        )
    return ClipsInMemory.load(path)
