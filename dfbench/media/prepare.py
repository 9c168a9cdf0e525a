"""``prepare``: precompute face crops of a dataset into the crop cache, in parallel, resumable.

Each video is one task: probe (true frame count) -> sample indices -> decode only those frames ->
crop -> write its shard. Tasks are independent and deterministic, so the local process pool and
a Ray cluster produce the same cache, and a run killed at any moment resumes by skipping videos
whose shard exists. A failing video (undecodable, too short, no face) is recorded with its reason,
never fatal. ``finalize`` then writes the sorted ``datasets`` table.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import DfbenchError, MediaError
from ..specs import InputSpec, VideoItem
from .cache import CropCache
from .decode import probe, read_frames
from .sampling import sample_indices, sampling_plan
from .types import FaceCrops

log = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")

@dataclass
class PrepareReport:
    """Outcome of a prepare run (``failures`` maps video key -> reason, including earlier runs)."""

    cache_dir: Path
    n_videos: int = 0
    n_processed: int = 0
    n_cached: int = 0
    n_failed: int = 0
    n_frames: int = 0
    n_missing_faces: int = 0
    seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def videos_per_minute(self) -> float:
        return 60.0 * self.n_processed / self.seconds if self.seconds > 0 else 0.0


class TooShortError(MediaError):
    """The video has fewer frames than one clip of the detector."""


def make_cropper(name_or_obj: Any, settings: Mapping[str, Any] | None = None) -> Any:
    """A cropper object from a registered name (spec defaults + ``settings``) or an object as is."""
    if not isinstance(name_or_obj, str):
        return name_or_obj
    from ..registry import get_registry

    return get_registry().build_cropper(name_or_obj, settings)[0]


def crop_video(item: VideoItem | str, cropper: Any, input_spec: InputSpec, max_frames: int | None = None
               ) -> FaceCrops:
    """Decode the sampled frames of one video and crop them; ``frame_indices`` is filled.

    Raises :class:`MediaError` (unreadable file) or :class:`TooShortError` (shorter than a clip).
    """
    path = item.path if isinstance(item, VideoItem) else str(item)
    info = probe(path)
    indices = sample_indices(info.n_frames, input_spec, max_frames)
    if not indices:
        raise TooShortError(f"{path}: too short ({info.n_frames} frames < one clip of {input_spec.clip_length})")
    frames = read_frames(path, indices)
    crops = cropper(frames, input_spec.size)
    crops.frame_indices = list(indices)
    return crops


def _work(item: VideoItem, cropper: Any, input_spec: InputSpec, max_frames: int | None, cache_dir: str
          ) -> tuple[str, str, str, int, int]:
    """One task: crop a video and write its shard. Returns (key, status, reason, frames, missing)."""
    try:
        import cv2

        cv2.setNumThreads(1)  # one video per process: OpenCV's own threads would oversubscribe
    except Exception:  # pragma: no cover - cv2 is a hard dependency
        pass
    cache = CropCache(cache_dir)
    # Signed before decoding: a run reading the shard later compares it with the file then, so
    # crops of a file replaced since are a miss (not trusted by an "entry is newer" check).
    from ..run_identity import file_signature

    source = file_signature(item)
    try:
        crops = crop_video(item, cropper, input_spec, max_frames)
    except (MediaError, DfbenchError, ValueError) as exc:
        cache.put_failure(item.key, str(exc), label=item.label, method=item.method)
        return item.key, "error", str(exc), 0, 0
    except Exception as exc:  # a corrupt file can surface as any decoder/dlib error
        reason = f"{type(exc).__name__}: {exc}"
        cache.put_failure(item.key, reason, label=item.label, method=item.method)
        return item.key, "error", reason, 0, 0
    cache.put(item.key, crops, label=item.label, method=item.method, source=source)
    return item.key, "ok", "", len(crops), crops.n_missing


def _run_local(tasks: list[VideoItem], args: tuple, workers: int, bar) -> Iterable[tuple]:
    if workers <= 1:
        for item in tasks:
            yield _work(item, *args)
        return
    from .pool import submit_all

    # One persistent spawn pool per process (dfbench/media/pool.py): workers start and load their
    # models once, for every video and every later prepare call. As with any spawn-based pool, a
    # script calling prepare(workers > 1) needs ``if __name__ == "__main__":``.
    yield from submit_all(_work, tasks, *args, workers=workers)


def _run_ray(tasks: list[VideoItem], args: tuple, workers: int, bar) -> Iterable[tuple]:
    try:
        import ray
    except ImportError as exc:
        raise DfbenchError("--executor ray needs Ray: pip install 'dfbench[ray]' (or 'ray[default]')") from exc
    started = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False,
                                  "include_dashboard": False}
        if address:
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = max(workers, 1)
        ray.init(**kwargs)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=2)(_work)
        shared = [ray.put(a) for a in args]
        window = max(workers, 1) * 4  # bounded in-flight tasks: memory stays flat on big datasets
        pending, queue = [], list(tasks)
        while queue or pending:
            while queue and len(pending) < window:
                pending.append(remote.remote(queue.pop(0), *shared))
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield ray.get(ref)
    finally:
        if started:
            ray.shutdown()


def prepare(
    items: Iterable[VideoItem],
    cropper: Any,
    input_spec: InputSpec,
    cache_root: str | Path,
    *,
    dataset: str | None = None,
    version: str = "1",
    workers: int = 1,
    executor: str = "local",
    progress: bool = True,
    max_frames: int | None = None,
    retry_failed: bool = False,
    finalize: bool = True,
) -> PrepareReport:
    """Crop every item into the cache for (dataset@version, cropper recipe, sampling plan, size).

    ``cropper`` is a registered name (settings from ``input_spec.crop_settings``) or a cropper
    object. ``dataset`` defaults to the first component of the item keys. Videos already in the
    cache are skipped (resume); failed ones are retried only with ``retry_failed``.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose from {EXECUTORS}")
    items = sorted(items, key=lambda it: it.key)
    cropper = make_cropper(cropper, input_spec.crop_settings)
    if dataset is None:
        dataset = items[0].key.split("/", 1)[0] if items else "empty"
    cache = CropCache.for_run(cache_root, dataset=dataset, version=version, recipe=cropper.recipe(),
                              plan=sampling_plan(input_spec, max_frames), size=input_spec.size)
    report = PrepareReport(cache_dir=cache.root, n_videos=len(items))
    todo = []
    for item in items:
        if cache.has(item.key) and not (retry_failed and cache.failure(item.key) is not None):
            report.n_cached += 1
        else:
            todo.append(item)
    log.info("prepare %s: %d videos, %d cached, %d to crop with %s (%d workers)",
             cache.root, len(items), report.n_cached, len(todo), executor, workers)
    t0 = time.perf_counter()
    args = (cropper, input_spec, max_frames, str(cache.root))
    run = _run_ray if executor == "ray" else _run_local
    from tqdm.auto import tqdm

    with tqdm(total=len(todo), disable=not progress, unit="video", desc="prepare") as bar:
        for key, status, reason, n_frames, n_missing in run(todo, args, workers, bar):
            report.n_processed += 1
            report.n_frames += n_frames
            report.n_missing_faces += n_missing
            if status != "ok":
                log.warning("%s: %s", key, reason)
            bar.update(1)
    report.seconds = time.perf_counter() - t0
    for item in items:
        reason = cache.failure(item.key)
        if reason is not None:
            report.failures[item.key] = reason
    report.n_failed = len(report.failures)
    if finalize and (report.n_processed or not (cache.root / "dataset").exists()):
        cache.finalize()
    return report


def cached_crops_for(cache_root: str | Path, *, dataset: str, version: str, cropper: Any,
                     input_spec: InputSpec, max_frames: int | None = None) -> CropCache | None:
    """The existing cache a run with these settings would use, or None (``dfbench run`` calls this)."""
    cropper = make_cropper(cropper, input_spec.crop_settings)
    return CropCache.for_run(cache_root, dataset=dataset, version=version, recipe=cropper.recipe(),
                             plan=sampling_plan(input_spec, max_frames), size=input_spec.size, create=False)


def input_for_cropper(name: str, **overrides: Any) -> InputSpec:
    """Default input spec for preparing a cropper without a detector: the cropper spec's
    ``prepare_input`` (declared where the cropper is registered), else a generic frame input."""
    from ..registry import get_registry

    try:
        declared = get_registry().cropper(name).prepare_input
    except Exception:  # an unknown name is reported by whoever builds the cropper next
        declared = None
    spec = declared or InputSpec(cropper=name)
    return replace(spec, **overrides) if overrides else spec


def with_face_detector(input_spec, face_detector: str, reg):
    """``input_spec`` whose cropper runs ``face_detector``; a clear error where the cropper cannot
    (used by ``dfbench prepare`` and ``dfbench faces``)."""
    factory = str(reg.cropper(input_spec.cropper).factory)
    if ".recipes" in factory:
        if input_spec.cropper == "dfb" and face_detector != "dlib":
            raise DfbenchError("the dfb recipe is DeepfakeBench's dlib pipeline: --face-detector dlib only")
        settings = {**dict(input_spec.crop_settings), "face_detector": face_detector}
        if input_spec.cropper == "dfb":
            settings.pop("face_detector")
        return replace(input_spec, crop_settings=settings)
    if face_detector != "dlib":
        raise DfbenchError(
            f"cropper {input_spec.cropper!r} is built on dlib; --face-detector {face_detector} needs an official "
            f"recipe cropper (laanet_official, sbi_official, recce_official, lipforensics_official)"
        )
    return input_spec
