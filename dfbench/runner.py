"""``evaluate``: one detector on one dataset split, streamed to disk, resumable.

Every scored video is appended to ``predictions.partial.jsonl`` (flushed and fsynced) before the
next one starts, so a run killed at any point (kill -9 included) resumes where it stopped and ends
with the same ``results.json`` and ``predictions.parquet`` as an uninterrupted run: batches never
span videos, so a video's logits do not depend on what was processed before it. Nothing per-frame
is kept in RAM beyond one video's logits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import DfbenchError
from .indexing import resolve_dataset_items
from .pipeline import FaceStage, ModelStage, PreparedVideo, prefetch
from .registry import Registry, get_registry
from .results import PARTIAL_FILE, SCHEMA_VERSION, finalize_run, read_partial
from .specs import DatasetSpec, VideoItem
from .weights import atomic_write_json

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    """What hooks (``run_started``/``run_finished``) receive about a run."""

    output_dir: Path
    detector_id: str
    dataset_id: str
    split: str
    protocol: dict[str, Any]
    protocol_hash: str
    items: list[VideoItem] = field(default_factory=list)


def protocol_hash(protocol: dict[str, Any]) -> str:
    blob = json.dumps(protocol, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _stable_rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def select_subset(items: list[VideoItem], limit: int | None, limit_percent: float | None, seed: int) -> list[VideoItem]:
    """A deterministic, class-stratified subset (``--limit`` / ``--limit-percent``) for quick checks."""
    if limit is None and limit_percent is None:
        return items
    n_total = len(items)
    n = limit if limit is not None else max(1, round(n_total * float(limit_percent) / 100.0))
    if n >= n_total:
        return items
    by_label: dict[int, list[VideoItem]] = {}
    for it in items:
        by_label.setdefault(it.label, []).append(it)
    chosen: list[VideoItem] = []
    for _label, group in sorted(by_label.items()):
        share = max(1, round(n * len(group) / n_total))
        chosen += sorted(group, key=lambda it: _stable_rank(seed, it.key))[:share]
    keep = {it.key for it in chosen}
    return [it for it in items if it.key in keep]


def evaluate(
    detector: Any,
    dataset: str | DatasetSpec,
    split: str = "test",
    corruption: str | None = None,
    severity: int | None = None,
    limit: int | None = None,
    limit_percent: float | None = None,
    batch_size: int = 16,
    device: str = "cpu",
    seed: int = 0,
    *,
    output: str | Path | None = None,
    data_root: str | Path | None = None,
    dataset_options: dict | None = None,
    weights: str | None = None,
    precision: str = "auto",
    channels_last: bool | str = "auto",
    compile: bool = False,
    backend: str = "torch",
    flip_test: bool | None = None,
    aggregation: str | None = None,
    frames_per_video: int | None = None,
    max_frames: int | None = None,
    missing_face: str = "skip",
    corrupt_crops: bool = False,
    use_cache: bool = True,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    registry: Registry | None = None,
    items: list[VideoItem] | None = None,
) -> dict[str, Any]:
    """Evaluate ``detector`` on ``dataset``/``split``; write and return ``results.json`` content.

    ``detector`` is an id (``laanet``, ``recce_gf.demo``) or a built :class:`Detector`.
    ``corruption`` is a name (``"saturation"``) with ``severity`` a level, or ``"saturation:3"``.
    Re-running with the same arguments and output directory resumes an interrupted run.
    """
    from dataclasses import replace

    from .build import build_detector, detector_id_of

    reg = registry or get_registry()
    t_start = time.perf_counter()
    from .threads import configure as configure_threads

    configure_threads()  # thread counts from the CPUs really available (see dfbench/threads.py)
    det = build_detector(detector, weights=weights, registry=reg) if isinstance(detector, str) else detector
    det_id = detector_id_of(det)
    from .backends import attach as attach_backend
    from .backends import precision_for
    from .precision import choose as choose_precision

    precision, channels_last = precision_for(backend, precision, channels_last)  # onnxruntime: fp32

    # "auto": the fastest configuration whose logits stay within tolerance of fp32 (dfbench/precision.py).
    pchoice = choose_precision(det, det_id, device, precision, channels_last)
    precision, channels_last = pchoice.precision, pchoice.channels_last
    spec_in = det.input_spec
    overrides = {k: v for k, v in {"flip_test": flip_test, "aggregation": aggregation,
                                  "frames_per_video": frames_per_video}.items() if v is not None}
    input_spec = replace(spec_in, **overrides) if overrides else spec_in

    if items is None:
        ds_spec, items, count_warnings = resolve_dataset_items(dataset, split, data_root=data_root,
                                                               options=dataset_options, registry=reg)
    else:
        ds_spec = reg.dataset(dataset) if isinstance(dataset, str) else dataset
        count_warnings = []
    n_indexed = len(items)
    items = select_subset(items, limit, limit_percent, seed)

    corr_spec, level = None, None
    if corruption:
        name, _, lvl = corruption.partition(":")
        corr_spec = reg.corruption(name)
        level = int(lvl) if lvl else severity
        if level is None or level not in corr_spec.levels:
            raise DfbenchError(f"corruption {name!r} needs a level in {list(corr_spec.levels)}: use --corruption {name}:LEVEL")

    cropper_name = "precropped" if ds_spec.precropped else input_spec.cropper
    cropper, settings = reg.build_cropper(cropper_name, input_spec.crop_settings)
    if max_frames is None:
        max_frames = (dataset_options or {}).get("max_frames") or det.max_frames_for(ds_spec.name) or None

    protocol = {
        "dataset": {"id": ds_spec.name, "version": ds_spec.version, "split": split,
                    "items_sha256": hashlib.sha256("\n".join(f"{i.key}\t{i.label}" for i in items).encode()).hexdigest(),
                    "options": {k: v for k, v in sorted((dataset_options or {}).items()) if k != "allow_partial"},
                    "subset": {"limit": limit, "limit_percent": limit_percent, "seed": seed} if (limit or limit_percent) else None},
        "detector": {"id": det_id, "weights_sha256": det.weights_info.get("sha256")},
        "input": input_spec.to_dict(),
        "frames": {"unit": input_spec.unit, "frames_per_video": input_spec.frames_per_video,
                   "clip_length": input_spec.clip_length, "max_frames": max_frames,
                   "sampling": "evenly spaced over the true frame count" if input_spec.unit == "frame"
                   else "consecutive non-overlapping clips from frame 0"},
        "cropper": {"name": cropper_name, "recipe": _recipe(cropper, settings)},
        "corruption": ({"name": corr_spec.name, "level": level, "seed": seed,
                        "applied_to": "crops" if corrupt_crops else "full frames before face detection"}
                       if corr_spec else None),
        "aggregation": input_spec.aggregation,
        "flip_test": input_spec.flip_test,
        "missing_face": missing_face,
        "precision": precision,
        "channels_last": bool(channels_last),
        **({"precision_choice": pchoice.protocol()} if pchoice.mode == "auto" else {}),
        **({"backend": backend} if backend != "torch" else {}),
        "checkpoint_selection": det.weights_info.get("selection") or None,
    }
    if hasattr(det, "inference_options"):
        # Detector-side fast-path switches (skipped heads, folded BatchNorm) change how a number
        # was computed, so they are part of the protocol too.
        det.configure_inference(heads=("cls",))
        protocol["inference"] = det.inference_options()
    phash = protocol_hash(protocol)
    out = Path(output) if output else Path("runs") / det_id / f"{ds_spec.name}-{split}{_corr_tag(corr_spec, level)}-{phash[:8]}"
    out.mkdir(parents=True, exist_ok=True)
    _check_resume(out, phash)
    atomic_write_json(out / "protocol.json", {"protocol_hash": phash, "protocol": protocol})

    cache = None
    if use_cache and not ds_spec.precropped:
        cache = _open_cache(cache_dir, ds_spec, cropper_name, settings, cropper, input_spec, max_frames)

    ctx = RunContext(out, det_id, ds_spec.name, split, protocol, phash, items)
    reg.pm.hook.run_started(run=ctx)
    done = read_partial(out / PARTIAL_FILE)
    pending = [it for it in items if it.key not in done]
    face_stage = FaceStage(input_spec, cropper, missing_face=missing_face, corruption=corr_spec, level=level,
                           corrupt_crops=corrupt_crops, run_seed=seed, max_frames=max_frames, cache=cache)
    model_stage = ModelStage(det, device=device, precision=precision, channels_last=channels_last,
                             flip_test=input_spec.flip_test, batch_size=batch_size, compile=compile)
    backend_info = attach_backend(model_stage, backend, device)  # checks its logits against torch
    timing = {"decode": 0.0, "faces": 0.0, "model": 0.0}
    cache_hits = 0
    n_units = 0
    bar = _progress(len(items), len(items) - len(pending), f"{det_id} on {ds_spec.name}/{split}", progress)
    t_loop = time.perf_counter()
    with open(out / PARTIAL_FILE, "a", encoding="utf-8") as sink:
        for pv in prefetch(face_stage, pending):
            rec = _score(pv, model_stage, timing)
            cache_hits += int(pv.timing.get("cache_hits", 0))
            n_units += len(rec.get("logits", []))
            sink.write(json.dumps(rec) + "\n")
            sink.flush()
            os.fsync(sink.fileno())
            if rec["status"] == "failed":
                log.warning("failed: %s: %s", pv.item.key, rec["reason"])
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - t_loop
    if cache is not None and hasattr(cache, "flush"):
        cache.flush()

    throughput = {
        "model_frames_per_s": (n_units / timing["model"]) if timing["model"] > 0 else None,
        "videos_per_s": (len(pending) / wall) if wall > 0 and pending else None,
        "seconds": {k: round(v, 3) for k, v in timing.items()} | {"wall": round(wall, 3),
                                                                "total": round(time.perf_counter() - t_start, 3)},
        "videos_timed": len(pending),
        "crop_cache_hits": cache_hits,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "unit": input_spec.unit,
        "batch_size": batch_size,
        "device": device,
        "precision": precision,
    }
    header = {
        "schema_version": SCHEMA_VERSION,
        "detector": {"id": det_id, "family": det.spec.name, "variant": det.variant.name,
                     "weights_tag": det.weights_info.get("tag"), "weights_sha256": det.weights_info.get("sha256"),
                     "weights_source": det.weights_info.get("source"), "trained": bool(det.trained)},
        "dataset": {"id": ds_spec.name, "split": split, "version": ds_spec.version,
                    "videos_indexed": n_indexed, "count_warnings": count_warnings,
                    "allow_partial": bool((dataset_options or {}).get("allow_partial"))},
        "corruption": protocol["corruption"],
        "protocol": protocol,
        "protocol_hash": phash,
        "throughput": throughput,
        "env": environment(device) | {"precision_choice": pchoice.record(), "backend": backend_info},
    }
    result = finalize_run(out, items, header, input_spec.aggregation, seed=seed)
    reg.pm.hook.run_finished(run=ctx, result=result)
    # The directory is returned to the caller but kept out of results.json, which must not
    # depend on where a run was written.
    return {**result, "output_dir": str(out)}


def _score(pv: PreparedVideo, model_stage: ModelStage, timing: dict[str, float]) -> dict[str, Any]:
    it = pv.item
    base = {"key": it.key, "label": int(it.label), "method": it.method}
    for k in ("decode", "faces"):
        timing[k] += pv.timing[k]
    if pv.failure is not None:
        return base | {"status": "failed", "reason": pv.failure}
    t0 = time.perf_counter()
    logits = model_stage.logits(pv.units)
    timing["model"] += time.perf_counter() - t0
    # score_half: a unit without a face counts as "don't know" (probability 0.5, logit 0).
    for j in pv.missing_units:
        logits[j] = 0.0
    return base | {"status": "ok", "frames": [int(i) for i in pv.unit_index],
                   "logits": [float(v) for v in logits], "missing_faces": pv.n_missing_faces,
                   "frames_sampled": pv.n_frames}


def _recipe(cropper, settings: dict) -> dict:
    recipe = getattr(cropper, "recipe", None)
    return recipe() if callable(recipe) else dict(settings)


def _open_cache(cache_dir, ds_spec, cropper_name, settings, cropper, input_spec, max_frames):
    try:
        from .media.cache import open_run_cache
    except ImportError:
        return None
    root = Path(cache_dir) if cache_dir else default_cache_dir() / "crops"
    return open_run_cache(root, dataset=ds_spec, cropper_name=cropper_name, recipe=_recipe(cropper, settings),
                          input_spec=input_spec, max_frames=max_frames)


def default_cache_dir() -> Path:
    return Path(os.environ.get("DFBENCH_CACHE", Path.home() / ".cache" / "dfbench"))


def _corr_tag(spec, level) -> str:
    return f"-{spec.name}{level}" if spec else ""


def _check_resume(out: Path, phash: str) -> None:
    prev = out / "protocol.json"
    if prev.exists() and (out / PARTIAL_FILE).exists():
        old = json.loads(prev.read_text()).get("protocol_hash")
        if old != phash:
            raise DfbenchError(
                f"{out} holds an unfinished run with a different protocol ({old} vs {phash}); "
                f"pass another --output directory or delete {out / PARTIAL_FILE} to start over."
            )


def _progress(total: int, initial: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="video", dynamic_ncols=True)


def environment(device: str) -> dict[str, Any]:
    import subprocess

    import torch

    from .plugins import plugin_versions
    from .threads import report as thread_report

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except Exception:
        commit = None
    return {
        "dfbench": __version__,
        "plugins": plugin_versions(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "thread_settings": thread_report(),
        "device": device,
        "git_commit": commit,
    }
