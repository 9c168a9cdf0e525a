"""The throughput protocol (``dfbench bench``): what a detector costs, measured the same way for all.

For one detector at its declared input (one frame crop or one clip):

- ``params`` and ``gmacs``: parameters, and multiply-accumulates of one input from
  :class:`torch.utils.flop_counter.FlopCounterMode` (FLOPs / 2; convolutions and matrix products,
  which dominate every detector we ship), plus ``gmacs_per_video`` under the detector's protocol
  (units per video x the flip-test multiplier);
- ``latency_ms``: p50 / p95 of a batch of 1 (fp32, eager, warmed up);
- ``throughput``: units/s at ``batch_size`` for each precision the device supports (fp32 always;
  bf16 / fp16 where the device has fast kernels) with channels_last off and on (frame detectors),
  and optionally torch.compile of the fastest configuration;
- ``peak_memory_mb``: peak RSS above the pre-benchmark baseline, sampled while the model runs
  (on CUDA: ``torch.cuda.max_memory_allocated``);
- ``end_to_end``: videos/s through the real evaluation pipeline (decode + face detection + crops +
  model, with the detector's frame sampling and flip test) on a generated 10-s 640x360 talking-head
  video, or on ``video=PATH``.

Model timings go through :class:`dfbench.pipeline.ModelStage`, the object the runner scores with,
so the figures are those of ``dfbench run`` at the same settings. Each configuration runs on its
own copy of the detector because precision and memory-format changes are made in place.
"""

from __future__ import annotations

import copy
import logging
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .bench_e2e import E2E_FPS, E2E_SECONDS, E2E_SIZE, generated_video, measure_end_to_end  # noqa: F401
from .bench_report import backend_prefix, config_tag, expand_detectors, summary_lines  # noqa: F401  (public here too)
from .errors import DfbenchError

log = logging.getLogger(__name__)

BENCH_SCHEMA_VERSION = 1
ALL_PRECISIONS = ("fp32", "bf16", "fp16")


def supported_precisions(device: str = "cpu") -> dict[str, str | None]:
    """``{precision: None if usable else why not}`` for autocast on ``device``.

    On CPU, bf16/fp16 count as supported only when oneDNN has native kernels for them (AVX-512
    bf16/AMX, AVX-512 fp16/AMX-fp16); elsewhere autocast falls back to emulation that is slower
    than fp32, which would only mislead a reader of the table.
    """
    import torch

    dev = torch.device(device)
    out: dict[str, str | None] = {"fp32": None, "bf16": None, "fp16": None}
    if dev.type == "cuda":
        if not torch.cuda.is_bf16_supported():
            out["bf16"] = "this GPU has no bf16 support"
        return out
    if dev.type == "cpu":
        mk = torch.ops.mkldnn
        if not (hasattr(mk, "_is_mkldnn_bf16_supported") and mk._is_mkldnn_bf16_supported()):
            out["bf16"] = "no native bf16 kernels on this CPU (needs AVX-512 bf16 or AMX)"
        if not (hasattr(mk, "_is_mkldnn_fp16_supported") and mk._is_mkldnn_fp16_supported()):
            out["fp16"] = "no native fp16 kernels on this CPU (needs AVX-512 fp16 or AMX-fp16)"
        return out
    out["bf16"] = out["fp16"] = f"not measured on {dev.type}"
    return out


def count_macs(detector: Any, batch: int = 1) -> float:
    """Multiply-accumulates of ``detector`` on ``batch`` inputs of its declared shape (FLOPs / 2)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = detector.example_input(batch=batch, seed=0).to(detector.device)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        detector(x)
    return counter.get_total_flops() / 2.0


class _PeakRSS:
    """Samples this process's RSS in a thread: the peak above the baseline taken at start."""

    def __init__(self, interval: float = 0.005) -> None:
        import psutil

        self._proc, self._interval = psutil.Process(), interval
        self.baseline = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dfbench-rss", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> _PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def delta_mb(self) -> float:
        return (self.peak - self.baseline) / 2**20


def _percentile(values: Sequence[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_stage(stage: Any, units: Any, warmup: int, iters: int) -> list[float]:
    """Seconds per call of ``stage.logits(units)`` after ``warmup`` untimed calls."""
    for _ in range(max(0, warmup)):
        stage.logits(units)
    _sync(stage.device)
    times = []
    for _ in range(max(1, iters)):
        t0 = time.perf_counter()
        stage.logits(units)
        _sync(stage.device)
        times.append(time.perf_counter() - t0)
    return times


def _units(detector: Any, batch: int):
    return detector.example_input(batch=batch, seed=1).numpy()


def _model_stage(detector: Any, backend: str = "torch", **kw: Any):
    from .backends import attach
    from .pipeline import ModelStage

    if backend == "torch":  # a fresh copy per configuration: ModelStage converts dtype / layout in place
        return ModelStage(copy.deepcopy(detector), flip_test=False, **kw)
    precision = kw.pop("precision")
    stage = ModelStage(copy.deepcopy(detector), flip_test=False, **{**kw, "precision": "fp32", "channels_last": False})
    attach(stage, backend, str(stage.device), precision)
    return stage


def measure_config(detector: Any, *, precision: str, channels_last: bool, batch_size: int, device: str = "cpu",
                   compile: bool = False, warmup: int = 2, iters: int = 10, backend: str = "torch") -> dict[str, Any]:
    """Model-only throughput of one (backend, precision, channels_last, compile) configuration."""
    import torch

    units = _units(detector, batch_size)
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    with _PeakRSS() as mem:
        stage = _model_stage(detector, backend, device=device, precision=precision, channels_last=channels_last,
                             batch_size=batch_size, compile=compile)
        if compile:
            stage.logits(units)  # the first call compiles; timed separately
        setup_s = time.perf_counter() - t0
        times = _time_stage(stage, units, warmup, iters)
    median = _percentile(times, 50)
    row = {
        "backend": backend,
        "precision": precision,
        "channels_last": bool(stage.channels_last),
        "compile": compile,
        "batch_size": batch_size,
        "units_per_s": batch_size / median if median > 0 else None,
        "ms_per_batch_p50": 1000 * median,
        "ms_per_batch_p95": 1000 * _percentile(times, 95),
        "iters": len(times),
        "peak_rss_delta_mb": round(mem.delta_mb, 1),
    }
    row["_times"] = times  # raw seconds per batch, merged over rounds by _merge_rounds and dropped
    if compile:
        row["compile_s"] = round(setup_s, 2)
    if torch.device(device).type == "cuda":
        row["cuda_max_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    del stage
    return row


NOISY_SPREAD = 0.25  # (max - min) / median of the per-round throughputs above this: flagged noisy


def _merge_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One configuration measured in several rounds -> one row with min/median/max over rounds.

    ``units_per_s`` and the ms percentiles come from all timed batches pooled; ``units_per_s_min /
    _median / _max`` from each round's own median, and ``spread`` = (max - min) / median of those.
    A spread over :data:`NOISY_SPREAD` sets ``noisy``: the machine was busy or the configuration is
    unstable, and comparisons with other configurations of the same run are not to be trusted.
    """
    row = {k: v for k, v in rounds[0].items() if k != "_times"}
    batch = row["batch_size"]
    pooled = [t for r in rounds for t in r["_times"]]
    per_round = sorted(batch / _percentile(r["_times"], 50) for r in rounds)
    med = _percentile(per_round, 50)
    p50 = _percentile(pooled, 50)
    row.update(
        units_per_s=batch / p50 if p50 > 0 else None,
        ms_per_batch_p50=1000 * p50,
        ms_per_batch_p95=1000 * _percentile(pooled, 95),
        rounds=len(rounds),
        units_per_s_min=per_round[0],
        units_per_s_median=med,
        units_per_s_max=per_round[-1],
        spread=(per_round[-1] - per_round[0]) / med if med > 0 else 0.0,
        peak_rss_delta_mb=max(r["peak_rss_delta_mb"] for r in rounds),
    )
    row["noisy"] = bool(row["spread"] > NOISY_SPREAD)
    return row


def _add_speedups(rows: list[dict[str, Any]]) -> None:
    """``speedup_vs_fp32_nchw`` of each row against the fp32, channels-first, eager row of this run."""
    base = next((r for r in rows if r["precision"] == "fp32" and not r["channels_last"] and not r["compile"]
                 and r.get("backend", "torch") == "torch"), None)
    ref = base["units_per_s"] if base else None
    for r in rows:
        r["speedup_vs_fp32_nchw"] = (r["units_per_s"] / ref) if ref and r["units_per_s"] else None


def measure_latency(
    detector: Any, *, device: str = "cpu", warmup: int = 3, iters: int = 20
) -> dict[str, Any]:
    """p50 / p95 latency of one unit (batch 1), fp32, eager."""
    stage = _model_stage(detector, device=device, precision="fp32", batch_size=1)
    times = _time_stage(stage, _units(detector, 1), warmup, iters)
    return {
        "batch_size": 1,
        "precision": "fp32",
        "p50": 1000 * _percentile(times, 50),
        "p95": 1000 * _percentile(times, 95),
        "iters": len(times),
    }


def bench_detector(
    detector: Any,
    *,
    weights: str | None = None,
    batch_size: int = 8,
    precisions: Sequence[str] | None = None,
    channels_last: Sequence[bool] = (False, True),
    compile: bool = False,
    backends: Sequence[str] | None = None,
    device: str = "cpu",
    warmup: int = 2,
    iters: int = 10,
    latency_iters: int = 20,
    end_to_end: bool = True,
    video: str | Path | None = None,
    video_dir: str | Path | None = None,
    e2e_repeats: int = 1,
    repeats: int = 3,
    registry: Any = None,
) -> dict[str, Any]:
    """Run the throughput protocol on ``detector`` (an id or a built detector); returns the JSON dict.

    ``precisions=None`` measures fp32 and every precision :func:`supported_precisions` allows on
    ``device``; precisions given explicitly are measured even where slow (and marked). Without
    ``video`` the end-to-end figure uses a generated 10-s 640x360 video, written once into
    ``video_dir`` (default: a temporary directory).

    Each configuration is measured ``repeats`` times, the configurations taking turns (round robin),
    so that a machine getting busier or quieter during the run affects all of them alike; rows carry
    min/median/max over rounds, ``noisy`` when they disagree by more than 25 %, and the speed-up
    against fp32 NCHW measured in the same run.
    """
    import torch

    from .build import build_detector, detector_id_of
    from .pipeline import PRECISIONS
    from .registry import get_registry
    from .runner import environment

    reg = registry or get_registry()
    det = (
        build_detector(detector, weights=weights, registry=reg)
        if isinstance(detector, str)
        else detector
    )
    det = det.eval().to(device)
    spec = det.input_spec
    support = supported_precisions(device)
    if precisions is None:
        chosen = [p for p in ALL_PRECISIONS if support[p] is None]
    else:
        chosen = list(dict.fromkeys(precisions))
        bad = [p for p in chosen if p not in PRECISIONS]
        if bad:
            raise DfbenchError(f"--precisions: unknown {bad}; choose from {', '.join(PRECISIONS)}")
    layouts = sorted(set(channels_last)) if spec.unit == "frame" else [False]

    macs = count_macs(det)
    params = sum(p.numel() for p in det.parameters())
    units_per_video = spec.frames_per_video if spec.unit == "frame" else None
    tta = 2 if spec.flip_test else 1
    latency = measure_latency(det, device=device, iters=latency_iters)
    configs = [("torch", prec, cl) for prec in chosen for cl in layouts]
    # Exported runtimes: those --backend auto would try, unless precisions or backends are given.
    wanted = backends if backends is not None else (None if precisions is None else ())
    configs += [c for c in exported_configs(device, wanted) if c[1] in chosen]
    if repeats < 1:
        raise DfbenchError(f"--repeats must be at least 1, got {repeats}")
    rounds: dict[tuple[str, str, bool], list[dict[str, Any]]] = {c: [] for c in configs}
    skipped: dict[tuple[str, str, bool], str] = {}
    for _ in range(repeats):
        for c in configs:
            if c in skipped:
                continue
            try:
                rounds[c].append(measure_config(det, backend=c[0], precision=c[1], channels_last=c[2],
                                                batch_size=batch_size, device=device, warmup=warmup, iters=iters))
            except DfbenchError as e:  # not exportable, or outside tolerance: reported, not measured
                skipped[c] = str(e)
    rows = []
    for c in configs:
        if c in skipped:
            log.info("%s %s: not measured (%s)", c[0], c[1], skipped[c])
            continue
        row = _merge_rounds(rounds[c])
        if support.get(c[1]):
            row["note"] = support[c[1]]
        rows.append(row)
        log.info("%s %s: %.2f units/s (min %.2f, max %.2f%s)", detector_id_of(det) if hasattr(det, "spec") else "",
                 config_tag(row), row["units_per_s"] or 0, row["units_per_s_min"], row["units_per_s_max"],
                 ", noisy" if row["noisy"] else "")
    best = max(rows, key=lambda r: r["units_per_s"] or 0.0)
    if compile:
        torch_best = max((r for r in rows if r["backend"] == "torch"), key=lambda r: r["units_per_s"] or 0.0)
        crow = measure_config(det, precision=torch_best["precision"], channels_last=torch_best["channels_last"],
                              batch_size=batch_size, device=device, compile=True, warmup=warmup, iters=iters)
        rows.append(_merge_rounds([crow]))  # compiling is slow: one round
        best = max(rows, key=lambda r: r["units_per_s"] or 0.0)
    _add_speedups(rows)

    e2e = None
    if end_to_end:
        with tempfile.TemporaryDirectory(prefix="dfbench-bench-") as tmp:
            path = Path(video) if video else generated_video(video_dir or tmp)
            e2e = measure_end_to_end(det, path, device=device, precision=best["precision"],
                                     channels_last=best["channels_last"], batch_size=batch_size,
                                     repeats=e2e_repeats, registry=reg, backend=best["backend"])
            if video is None:
                e2e["video"] = (
                    f"generated {E2E_SECONDS}-s {E2E_SIZE[0]}x{E2E_SIZE[1]} talking head (H.264)"
                )
        if units_per_video is None:
            units_per_video = e2e["units"]
    peak = max(r["peak_rss_delta_mb"] for r in rows)
    det_block = {
        "id": detector_id_of(det) if hasattr(det, "spec") else type(det).__name__,
        "family": getattr(getattr(det, "spec", None), "name", None),
        "variant": getattr(getattr(det, "variant", None), "name", None),
        "trained": bool(getattr(det, "trained", False)),
    }
    result = {
        "schema_version": BENCH_SCHEMA_VERSION,
        "detector": det_block,
        "input": {
            "unit": spec.unit,
            "size": spec.size,
            "channels": spec.channels,
            "clip_length": spec.clip_length,
            "frames_per_video": spec.frames_per_video,
            "flip_test": spec.flip_test,
        },
        "device": device,
        "threads": torch.get_num_threads(),
        "params": int(params),
        "params_m": round(params / 1e6, 3),
        "gmacs": macs / 1e9,
        "gmacs_per_video": (macs / 1e9) * units_per_video * tta if units_per_video else None,
        "flip_multiplier": tta,
        "latency_ms": latency,
        "throughput": rows,
        "best": {
            k: best[k]
            for k in ("backend", "precision", "channels_last", "compile", "batch_size", "units_per_s")
        },
        "precision_support": support,
        "peak_memory_mb": {"rss_delta": peak}
        | (
            {"cuda_max_allocated": max(r.get("cuda_max_allocated_mb", 0) for r in rows)}
            if torch.device(device).type == "cuda"
            else {}
        ),
        "end_to_end": e2e,
        "env": environment(device),
    }
    result["summary"] = {
        "params_m": result["params_m"],
        "gmacs": round(result["gmacs"], 4),
        "latency_ms_p50": round(latency["p50"], 3),
        "latency_ms_p95": round(latency["p95"], 3),
        "units_per_s": round(best["units_per_s"], 3) if best["units_per_s"] else None,
        "best_config": f"{backend_prefix(best)}{best['precision']}{' + channels_last' if best['channels_last'] else ''}"
        f"{' + compile' if best['compile'] else ''} @ batch {batch_size}",
        "not_measured": {config_tag({"backend": b, "precision": p, "channels_last": cl, "compile": False}): why
                         for (b, p, cl), why in skipped.items()},
        "videos_per_s": round(e2e["videos_per_s"], 4) if e2e else None,
        "peak_rss_delta_mb": peak,
        "repeats": repeats,
        "noisy_configs": [config_tag(r) for r in rows if r["noisy"]],
    }
    return result


def exported_configs(device: str, backends: Sequence[str] | None) -> list[tuple[str, str, bool]]:
    """(backend, precision, False) of the exported runtimes to measure (None: those ``--backend
    auto`` would try on ``device``, i.e. OpenVINO on a CPU where it is installed)."""
    from .backends import BACKENDS, check_backend, execution_candidates

    if backends is None:
        return [c for c in execution_candidates(device, "frame", "auto") if c[0] != "torch"]
    bad = [b for b in backends if b not in BACKENDS]
    if bad:
        raise DfbenchError(f"--backends: unknown {bad}; choose from {', '.join(BACKENDS)}")
    for b in backends:
        check_backend(b)
    return [c for b in backends if b != "torch" for c in execution_candidates(device, "frame", b)]
