"""Training data through the evaluation path, held-out selection by video, and the batch order.

**Crops.** A training crop must equal the evaluation crop of the same frame by construction, so
training reads a dataset exactly as ``dfbench run`` does: the items come from the dataset's index
through :func:`dfbench.indexing.resolve_dataset_items` (root from the ``resolve_dataset_root``
hook, ``--data-root`` or ``DFBENCH_<NAME>_ROOT``; count checks), and frames become crops through
the evaluation :class:`~dfbench.pipeline.FaceStage` with the detector's cropper and crop settings
and the shared crop cache (``dfbench prepare`` fills it; a training run re-uses it).

**Selection.** Checkpoints are chosen on data of the *source* (training) dataset only: its
validation split, or videos held out of its training split (:func:`holdout_keys`; by video, so no
video has frames on both sides). :func:`check_selection_split` refuses a selection (or training)
split equal to the evaluation test split.

**Order.** :func:`epoch_batches` makes the batch order a pure function of (seed, epoch): global
batch *s* is items ``[s·B·W, (s+1)·B·W)`` of the epoch's permutation and process *r* takes its
B-item slice, so W processes with batch B see exactly the batches one process with batch B·W sees,
and a resumed run replays the order from any step.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DfbenchError

log = logging.getLogger(__name__)

TEST_SPLIT = "test"
"""The split ``dfbench run`` evaluates by default; selection must never read it."""


class TrainingDataError(DfbenchError):
    """Training data is missing, empty or would touch the evaluation test split."""


# ---------------------------------------------------------------------------------------------
# Dataset items and crops (the evaluation path)


def training_items(dataset: str, split: str, *, data_root: str | Path | None = None,
                   options: dict | None = None, labels: Sequence[int] | None = None,
                   limit: int = 0) -> tuple[Any, list]:
    """(dataset spec, items) of ``dataset``/``split``, indexed as evaluation indexes it.

    ``labels`` keeps only items with those labels (e.g. ``(0,)``: real videos for pseudo-fake
    training); files the index lists but the disk lacks are dropped with a warning.
    """
    from ..indexing import resolve_dataset_items

    spec, items, warnings = resolve_dataset_items(dataset, split, data_root=data_root, options=options)
    for w in warnings:
        log.warning("%s", w)
    missing = [it for it in items if it.meta.get("missing")]
    if missing:
        log.warning("%s/%s: %d listed videos are not on disk; training without them", dataset, split,
                    len(missing))
    items = [it for it in items if not it.meta.get("missing") and (labels is None or it.label in labels)]
    if limit:
        items = items[:limit]
    if not items:
        raise TrainingDataError(f"dataset {dataset!r} split {split!r} has no usable videos to train on")
    return spec, items


def face_stage(input_spec: Any, dataset_spec: Any, *, cache_dir: str | Path | None = None,
               max_frames: int | None = None, frames_per_video: int | None = None,
               size: int | None = None, use_cache: bool = True, registry: Any = None):
    """The evaluation :class:`FaceStage` for a detector's ``input_spec`` on a dataset.

    ``frames_per_video`` / ``size`` change how many frames are sampled and the crop size (e.g. a
    trainer that cuts random windows from slightly larger crops); the cropper, its settings and
    the sampling rule stay the evaluation ones. ``cache_dir`` defaults to the shared crop cache.
    """
    from ..pipeline import FaceStage
    from ..registry import get_registry

    reg = registry or get_registry()
    changes = {k: v for k, v in (("frames_per_video", frames_per_video), ("size", size)) if v is not None}
    spec = replace(input_spec, **changes) if changes else input_spec
    name = "precropped" if dataset_spec.precropped else spec.cropper
    cropper, settings = reg.build_cropper(name, spec.crop_settings)
    cache = None
    if use_cache and not dataset_spec.precropped:
        from ..media.cache import open_run_cache
        from ..run_inputs import default_cache_dir

        recipe = cropper.recipe() if callable(getattr(cropper, "recipe", None)) else dict(settings)
        root = Path(cache_dir) if cache_dir else default_cache_dir() / "crops"
        cache = open_run_cache(root, dataset=dataset_spec, cropper_name=name, recipe=recipe, input_spec=spec,
                               max_frames=max_frames)
    return FaceStage(spec, cropper, missing_face="skip", max_frames=max_frames, cache=cache)


def prepared_videos(items: Sequence[Any], stage: Any) -> Iterator[Any]:
    """Each item's :class:`~dfbench.pipeline.PreparedVideo`; failed videos are logged and skipped
    (one broken file never stops a training-set build)."""
    from tqdm.auto import tqdm

    for item in tqdm(items, desc="training crops", unit="video", leave=False, disable=len(items) < 20):
        pv = stage.prepare(item)
        if pv.failure or pv.units is None:
            log.warning("skipping %s: %s", item.key, pv.failure)
            continue
        yield pv


def frame_crops(dataset: str, split: str, input_spec: Any, *, data_root: str | None = None,
                options: dict | None = None, frames_per_video: int | None = None,
                cache_dir: str | Path | None = None, limit: int = 0) -> tuple[np.ndarray, list[int], list[str]]:
    """Face crops uint8 ``[N, C, S, S]`` of a split with their labels and video keys (one row per
    frame with a face), exactly as evaluation crops them."""
    spec, items = training_items(dataset, split, data_root=data_root, options=options, limit=limit)
    stage = face_stage(input_spec, spec, cache_dir=cache_dir, frames_per_video=frames_per_video)
    images, labels, keys = [], [], []
    for pv in prepared_videos(items, stage):
        images.append(pv.units)
        labels += [int(pv.item.label)] * len(pv.units)
        keys += [pv.item.key] * len(pv.units)
    if not images:
        raise TrainingDataError(f"no faces found in {dataset}/{split}")
    return np.concatenate(images), labels, keys


# ---------------------------------------------------------------------------------------------
# Selection data


def check_selection_split(selection_split: str | None, *, train_split: str | None = None,
                          test_split: str = TEST_SPLIT, where: str = "config") -> None:
    """Refuse selection on (or training on) the split evaluation reports numbers for."""
    sel = (selection_split or "").strip()
    if sel and sel.lower() == test_split.lower():
        raise TrainingDataError(
            f"{where}: checkpoint selection must not read the test split {test_split!r}: choose a "
            f"validation split, or hold out videos of the training split (e.g. holdout:0.2)")
    if train_split and train_split.strip().lower() == test_split.lower():
        raise TrainingDataError(f"{where}: the training split must not be the test split {test_split!r}")


def parse_holdout(split: str | None) -> float | None:
    """``"holdout:0.2"`` -> 0.2 (hold out 20 % of the training videos); anything else -> None."""
    if not split or not split.startswith("holdout:"):
        return None
    try:
        frac = float(split.partition(":")[2])
    except ValueError:
        frac = -1.0
    if not 0 < frac < 1:
        raise TrainingDataError(f"{split!r}: the held-out fraction must lie in (0, 1), e.g. holdout:0.2")
    return frac


def holdout_keys(keys: Sequence[str], fraction: float, seed: int = 0,
                 labels: Sequence[int] | None = None) -> set[str]:
    """Video keys to hold out of a training split for selection, deterministically.

    By video (never by frame), stratified by label when ``labels`` (one per key) are given, and a
    pure function of (key, seed): the same for every run, every process and any listing order.
    Each label keeps at least one training video.
    """
    if not 0 < fraction < 1:
        raise TrainingDataError(f"held-out fraction must lie in (0, 1), got {fraction}")
    label_of: dict[str, int] = {}
    for i, k in enumerate(keys):
        label_of.setdefault(k, int(labels[i]) if labels is not None else 0)
    held: set[str] = set()
    for label in sorted(set(label_of.values())):
        group = sorted((k for k, y in label_of.items() if y == label),
                       key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
        n = min(len(group) - 1, max(1, round(fraction * len(group)))) if len(group) > 1 else 0
        held.update(group[:n])
    return held


def holdout_split_name(dataset: str, train_split: str, fraction: float) -> str:
    return f"{dataset}/{train_split}[held-out {fraction:.0%} of videos]"


# ---------------------------------------------------------------------------------------------
# Batch order


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool = True) -> list[int]:
    if not shuffle:
        return list(range(n))
    rng = np.random.default_rng([int(seed), int(epoch), 0x0DE5])
    return rng.permutation(n).tolist()


def epoch_batches(n: int, batch_size: int, *, rank: int = 0, world: int = 1, seed: int = 0, epoch: int = 0,
                  shuffle: bool = True, drop_last: bool = True, max_steps: int | None = None) -> list[list[int]]:
    """This process's batches of one epoch (see the module docstring). Without ``drop_last`` the
    last global batch is partial and a process may get an empty slice (it still joins the step)."""
    order = epoch_order(n, seed, epoch, shuffle)
    g = batch_size * world
    steps = n // g if drop_last else -(-n // g)
    if max_steps:
        steps = min(steps, int(max_steps))
    out = []
    for s in range(steps):
        glob = order[s * g:(s + 1) * g]
        if len(glob) < g and world > 1:
            # A partial last batch is padded from the epoch's start to a multiple of the process
            # count (as DistributedSampler pads), so no process gets an empty slice and all run
            # the same collective operations.
            glob = glob + order[:(-len(glob)) % world]
        per = len(glob) // world
        out.append(glob[rank * per:(rank + 1) * per])
    return out


__all__ = ["TEST_SPLIT", "TrainingDataError", "check_selection_split", "epoch_batches", "epoch_order",
           "face_stage", "frame_crops", "holdout_keys", "holdout_split_name", "parse_holdout",
           "prepared_videos", "training_items"]
