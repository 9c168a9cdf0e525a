"""``evaluate``: one detector on one dataset split, streamed to disk, resumable.

Every scored video is appended to ``predictions.partial.jsonl`` (flushed and fsynced) before the
next one starts, so a run killed at any point (kill -9 included) resumes where it stopped and ends
with the same ``results.json`` and ``predictions.parquet`` as an uninterrupted run: model batches
may span videos but always have the same shape (dfbench.parallel.batching), so a video's logits
do not depend on what was processed before or beside it. Nothing per-frame is kept in RAM beyond a batch and the
videos it spans. Videos are prepared in the driver, in ``workers`` processes or on Ray
(``executor="ray"``): all give the same records (dfbench.parallel).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DfbenchError
from .fileio import atomic_write_json
from .indexing import resolve_dataset_items
from .media.policy import MISSING_FACE_POLICIES
from .parallel import check_executor
from .parallel.batching import score_stream
from .parallel.stream import prepared_stream
from .pipeline import FaceStage, ModelStage, SystemicFailure, face_detection_device
from .registry import Registry, get_registry
from .results import (
    PARTIAL_FILE,
    SCHEMA_VERSION,
    finalize_run,
    read_partial,
)
from .run_identity import (  # noqa: F401  (protocol_hash, protocol_core_hash, environment: public here too)
    RunLock,
    _check_resume,
    _clear_run,
    check_args,
    check_device,
    environment,
    file_signature,
    index_checksum,
    protocol_core_hash,
    protocol_hash,
    software_versions,
)
from .run_inputs import (  # noqa: F401  (default_cache_dir, FACE_RULE_ALL: public here too)
    FACE_RULE_ALL,
    crop_recipe,
    default_cache_dir,
    open_crop_cache,
    resolve_face_rule,
)
from .specs import DatasetSpec, VideoItem

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_ERRORS = 5
"""The same exception on this many videos in a row is systemic (a bug, a missing model file), not
one bad video: the run stops and keeps what it scored."""


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
    backend: str = "auto",
    flip_test: bool | None = None,
    aggregation: str | None = None,
    frames_per_video: int | None = None,
    max_frames: int | None = None,
    missing_face: str | None = None,
    corrupt_crops: bool = False,
    use_cache: bool = True,
    cache_dir: str | Path | None = None,
    progress: bool | str = True,
    registry: Registry | None = None,
    items: list[VideoItem] | None = None,
    threshold_from: str | Path | None = None,
    allow_untrained: bool = False,
    force_new: bool = False,
    max_consecutive_errors: int = MAX_CONSECUTIVE_ERRORS,
    workers: int = 0,
    executor: str = "local",
) -> dict[str, Any]:
    """Evaluate ``detector`` on ``dataset``/``split``; write and return ``results.json`` content.

    ``detector`` is an id (``laanet``, ``recce_gf.demo``) or a built :class:`Detector`.
    ``corruption`` is a name (``"saturation"``) with ``severity`` a level, or ``"saturation:3"``.
    ``missing_face`` defaults to the detector's official rule (``InputSpec.missing_face``).
    Re-running with the same arguments and output directory resumes an interrupted run; a
    directory whose protocol differs is refused (``force_new=True`` starts it over). A detector
    without trained weights is refused unless ``allow_untrained``. ``workers`` processes (or Ray
    CPU tasks with ``executor="ray"``) prepare the videos; results do not depend on either.
    """
    from dataclasses import replace

    from .build import build_detector, detector_id_of

    check_args(limit=limit, limit_percent=limit_percent, batch_size=batch_size, frames_per_video=frames_per_video)
    check_executor(executor, workers)
    if executor != "ray":  # on Ray the model may run in a GPU actor (checked when it is placed)
        check_device(device)
    reg = registry or get_registry()
    t_start = time.perf_counter()
    from .threads import configure as configure_threads

    configure_threads()  # thread counts from the CPUs really available (see dfbench/threads.py)
    det = build_detector(detector, weights=weights, registry=reg) if isinstance(detector, str) else detector
    det_id = detector_id_of(det)
    if not det.trained and not allow_untrained:
        raise DfbenchError(untrained_message(det, reg))
    from .backends import install, protocol_entry, resolve_execution

    # "auto": the fastest (runtime, precision, layout) whose logits stay within tolerance of fp32.
    pchoice, exported = resolve_execution(det, det_id, device, backend, precision, channels_last, compile)
    precision, channels_last = pchoice.precision, pchoice.channels_last
    spec_in = det.input_spec
    overrides = {k: v for k, v in {"flip_test": flip_test, "aggregation": aggregation,
                                  "frames_per_video": frames_per_video}.items() if v is not None}
    input_spec = replace(spec_in, **overrides) if overrides else spec_in
    policy = missing_face or getattr(input_spec, "missing_face", "skip")
    if policy not in MISSING_FACE_POLICIES:
        raise DfbenchError(f"--missing-face must be one of {', '.join(MISSING_FACE_POLICIES)}, got {policy!r}")

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
    all_faces, face_rule, crop_overrides = resolve_face_rule(ds_spec, dataset_options, input_spec, cropper_name, reg)
    face_device = face_detection_device(reg, cropper_name, device, workers, executor)
    if face_device:
        crop_overrides = {**crop_overrides, "device": face_device}
    cropper, settings = reg.build_cropper(cropper_name, crop_overrides)
    if max_frames is None:
        max_frames = (dataset_options or {}).get("max_frames") or det.max_frames_for(ds_spec.name) or None
    signatures = {it.key: file_signature(it) for it in items}
    # An exported runtime gets the detector in fp32 and computes in its own precision.
    stage_opts = dict(precision="fp32" if exported else precision, channels_last=channels_last,
                      flip_test=input_spec.flip_test, batch_size=batch_size, compile=compile)
    if executor == "ray":
        from .parallel.ray_exec import place_model

        model_stage, run_batch = place_model(det, device=device, workers=workers, **stage_opts)
    else:
        model_stage, run_batch = ModelStage(det, device=device, **stage_opts), None
    # onnxruntime swaps the network of a local model stage (and checks it against torch first).
    if run_batch is not None and exported:
        raise DfbenchError(f"--backend {exported.backend} runs in this process; the model would run in a Ray GPU "
                           f"actor: use --backend torch")
    backend_info = install(model_stage, exported) if exported else ({"name": "torch"} if run_batch is None else None)
    effective = model_stage.effective()

    protocol = {
        "dataset": {"id": ds_spec.name, "version": ds_spec.version, "split": split,
                    "items_sha256": hashlib.sha256("\n".join(f"{i.key}\t{i.label}" for i in items).encode()).hexdigest(),
                    "index_sha256": index_checksum(items, signatures),
                    "options": {k: v for k, v in sorted((dataset_options or {}).items()) if k != "allow_partial"},
                    "subset": {"limit": limit, "limit_percent": limit_percent, "seed": seed} if (limit or limit_percent) else None},
        "detector": {"id": det_id, "weights_sha256": det.weights_info.get("sha256"), "trained": bool(det.trained)},
        "input": input_spec.to_dict(),
        "frames": {"unit": input_spec.unit, "frames_per_video": input_spec.frames_per_video,
                   "clip_length": input_spec.clip_length, "max_frames": max_frames,
                   "sampling": "evenly spaced over the true frame count" if input_spec.unit == "frame"
                   else "consecutive non-overlapping clips from frame 0"},
        "cropper": {"name": cropper_name, "recipe": crop_recipe(cropper, settings),
                    **({"face_device": face_device} if face_device else {})},
        "corruption": ({"name": corr_spec.name, "level": level, "seed": seed,
                        "applied_to": "crops" if corrupt_crops else "full frames before face detection"}
                       if corr_spec else None),
        "aggregation": input_spec.aggregation,
        "flip_test": input_spec.flip_test,
        "missing_face": policy,
        **({"face_rule": face_rule} if face_rule else {}),
        "missing_face_default": getattr(spec_in, "missing_face", "skip"),
        # What ran, not what was asked: a clip detector never gets channels_last, fp64 casts the
        # parameters, a detector may switch its own memory format or compile (inference options).
        "precision": effective["precision"],
        "parameter_dtype": effective["parameter_dtype"],
        "channels_last": effective["channels_last"],
        "compile": effective["compile"],
        **({"precision_choice": pchoice.protocol()} if pchoice.mode == "auto" else {}),
        **protocol_entry(exported),
        "checkpoint_selection": det.weights_info.get("selection") or None,
        "software": software_versions(),
    }
    # A decision threshold from a validation run (or stored with the weights) changes reported
    # numbers, so it is part of the protocol; absent, the protocol (and its hash) is unchanged.
    from .reporting import check_validation_split, validation_threshold, weights_threshold

    threshold = validation_threshold(threshold_from) if threshold_from else weights_threshold(det.weights_info)
    check_validation_split(threshold, ds_spec.name, split, det.weights_info.get("sha256"))
    if threshold:
        protocol["threshold"] = threshold
    if hasattr(det, "inference_options"):
        # Detector-side fast-path switches (skipped heads, folded BatchNorm) change how a number
        # was computed, so they are part of the protocol too.
        protocol["inference"] = det.inference_options()
    phash = protocol_hash(protocol)
    core_hash = protocol_core_hash(protocol)
    out = Path(output) if output else Path("runs") / det_id / f"{ds_spec.name}-{split}{_corr_tag(corr_spec, level)}-{phash[:8]}"
    out.mkdir(parents=True, exist_ok=True)
    lock = RunLock(out).acquire()
    try:
        if force_new:
            _clear_run(out)
        _check_resume(out, phash, protocol)
        atomic_write_json(out / "protocol.json", {"protocol_hash": phash, "protocol_core_hash": core_hash,
                                                  "protocol": protocol, "videos": len(items)})

        cache = None
        if use_cache and not ds_spec.precropped:
            cache = open_crop_cache(cache_dir, ds_spec, cropper_name, settings, cropper, input_spec, max_frames,
                                dataset_options)
            if cache is not None and hasattr(cache, "signatures"):
                cache.signatures = signatures

        ctx = RunContext(out, det_id, ds_spec.name, split, protocol, phash, items)
        reg.pm.hook.run_started(run=ctx)
        done = read_partial(out / PARTIAL_FILE)
        pending = [it for it in items if it.key not in done]
        face_stage = FaceStage(input_spec, cropper, missing_face=policy, corruption=corr_spec, level=level,
                               corrupt_crops=corrupt_crops, run_seed=seed, max_frames=max_frames, cache=cache,
                               all_faces=all_faces)
        timing = {"decode": 0.0, "faces": 0.0, "model": 0.0}
        stats = {"cache_hits": 0, "units": 0}
        sharding: dict[str, int] = {}  # Ray: shards, and shards/videos retried after a worker died
        source = prepared_stream(face_stage, pending, workers=workers, executor=executor, stats=sharding)
        # A string is the caller's label for this run's bar (robustness: "cell 12/36: noise:3").
        desc = progress if isinstance(progress, str) else f"{det_id} on {ds_spec.name}/{split}"
        bar = _progress(len(items), len(items) - len(pending), desc, bool(progress))
        t_loop = time.perf_counter()
        try:
            _score_all(source, model_stage, out, timing, stats, bar, max_consecutive_errors, run_batch,
                       already=sum(1 for r in done.values() if r.get("status") == "ok"))
        finally:
            with contextlib.ExitStack() as cleanup:  # every callback runs, even if one raises
                # Stop the face stage now rather than when the stream is garbage-collected: no decoding,
                # cropping or cache writing outlives a run that stopped (a re-run may start at once).
                cleanup.callback(source.close)
                if bar is not None:
                    cleanup.callback(bar.close)
        wall = time.perf_counter() - t_loop
        if cache is not None and hasattr(cache, "flush"):
            cache.flush()

        effective = model_stage.effective()
        throughput = {
            "model_frames_per_s": (stats["units"] / timing["model"]) if timing["model"] > 0 else None,
            "videos_per_s": (len(pending) / wall) if wall > 0 and pending else None,
            "seconds": {k: round(v, 3) for k, v in timing.items()} | {"wall": round(wall, 3),
                                                                    "total": round(time.perf_counter() - t_start, 3)},
            "videos_timed": len(pending),
            "crop_cache_hits": stats["cache_hits"],
            "executor": executor, "workers": workers, **({"ray": sharding} if sharding else {}),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "unit": input_spec.unit,
            "batch_size": effective["batch_size"],
            "batch_size_requested": effective["batch_size_requested"],
            "device": device,
            "precision": effective["precision"],
            "channels_last": effective["channels_last"],
            "compile": effective["compile"],
        }
        header = {
            "schema_version": SCHEMA_VERSION,
            "detector": {"id": det_id, "family": det.spec.name, "variant": det.variant.name,
                         "weights_tag": det.weights_info.get("tag"), "weights_sha256": det.weights_info.get("sha256"),
                         "weights_source": det.weights_info.get("source"), "trained": bool(det.trained),
                         "untrained": not det.trained},
            "dataset": {"id": ds_spec.name, "split": split, "version": ds_spec.version,
                        "videos_indexed": n_indexed, "count_warnings": count_warnings,
                        "allow_partial": bool((dataset_options or {}).get("allow_partial"))},
            "corruption": protocol["corruption"],
            "protocol": protocol,
            "protocol_hash": phash,
            "protocol_core_hash": core_hash,
            "throughput": throughput,
            "env": environment(device) | {"precision_choice": pchoice.record(), "backend": backend_info},
        }
        result = finalize_run(out, items, header, input_spec.aggregation, seed=seed)
        reg.pm.hook.run_finished(run=ctx, result=result)
    finally:
        lock.release()
    # The directory is returned to the caller but kept out of results.json, which must not
    # depend on where a run was written.
    return {**result, "output_dir": str(out)}


def untrained_message(det: Any, reg: Registry) -> str:
    """Why an untrained detector is refused, and the three ways to get weights."""
    from .build import detector_id_of

    spec = det.spec
    with_weights = [f"{spec.name if w.variant == 'default' else spec.name + '_' + w.variant}.{w.tag}"
                    for w in spec.weights]
    alt = (f", or use an id that ships weights ({', '.join(with_weights)})" if with_weights else "")
    return (f"{detector_id_of(det)} has no trained weights, so its scores would mean nothing. Get weights: "
            f"`dfbench convert {spec.name} OFFICIAL.pth OUT_DIR` then --weights OUT_DIR, or --weights DIR / "
            f"hf://ORG/NAME@REV{alt}. To score it untrained anyway (flagged in every result), pass --allow-untrained.")


def _error_signature(rec: dict[str, Any], item: VideoItem) -> str:
    """An exception's type and message with the video's own path/key taken out, so the same
    failure on different videos is recognised as the same."""
    return rec["reason"].replace(str(item.path), "<video>").replace(item.key, "<key>")


def _score_all(source: Any, model_stage: ModelStage, out: Path,
               timing: dict[str, float], stats: dict[str, int], bar: Any, max_consecutive: int,
               run_batch: Any = None, already: int = 0) -> None:
    """Score the prepared videos of ``source`` into the partial log; one video's failure never ends
    the run, a systemic one does (after everything scored so far is on disk).

    Exception failures are held back while they repeat: a run stopped by a systemic error (the
    same exception on ``max_consecutive`` videos in a row) leaves those videos unrecorded, so the
    re-run after the fix scores them instead of replaying the failure.
    """
    streak: list[dict[str, Any]] = []
    streak_sig: str | None = None
    n_ok = already
    with open(out / PARTIAL_FILE, "a", encoding="utf-8") as sink:
        def write(rec: dict[str, Any]) -> None:
            sink.write(json.dumps(rec) + "\n")
            sink.flush()
            os.fsync(sink.fileno())

        def flush_streak() -> None:
            nonlocal streak_sig
            for r in streak:
                write(r)
            streak.clear()
            streak_sig = None

        try:
            for pv, rec in score_stream(source, model_stage, timing, run_batch):
                if pv.stop is not None:
                    flush_streak()
                    raise DfbenchError(
                        f"{pv.stop}. --missing-face fail stops the run; {n_ok} videos scored so far are kept in "
                        f"{out}. Re-run with --missing-face skip or score_half (a different protocol) to go on.")
                stats["cache_hits"] += int(pv.timing.get("cache_hits", 0))
                stats["units"] += len(rec.get("logits", []))
                if bar is not None:
                    bar.update(1)
                if rec["status"] == "failed":
                    log.warning("failed: %s: %s", pv.item.key, rec["reason"])
                if rec.pop("exception", False):
                    sig = _error_signature(rec, pv.item)
                    if sig != streak_sig:
                        flush_streak()
                    streak.append(rec)
                    streak_sig = sig
                    if max_consecutive and len(streak) >= max_consecutive:
                        raise SystemicFailure(f"the same error on {len(streak)} consecutive videos ({sig}), last "
                                              f"{pv.item.path}: this is not one bad video")
                    continue
                flush_streak()
                write(rec)
                n_ok += rec["status"] == "ok"
            flush_streak()
        except SystemicFailure as e:
            raise DfbenchError(f"{e}. The run stopped; what was scored is kept in {out / PARTIAL_FILE}; fix the "
                               f"cause and re-run the same command to resume.") from e


def _corr_tag(spec, level) -> str:
    return f"-{spec.name}{level}" if spec else ""


def _progress(total: int, initial: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="video", dynamic_ncols=True)
