"""``--backend auto|torch|openvino|onnxruntime``: which runtime executes a detector's network.

``torch`` runs the detector eagerly (or with ``--compile``). ``openvino`` and ``onnxruntime`` run
the detector's ONNX export (:mod:`dfbench.onnx_export`) with OpenVINO's CPU plugin (``bf16``
through its native AMX/AVX-512-bf16 kernels, or ``fp32``) or ONNX Runtime (``fp32``).

**Every exported model is checked before a run uses it** (:func:`prepare`): its logits on the
calibration batch must be within the precision's tolerance of torch fp32
(:data:`MAX_DEVIATION` = 1e-3 in fp32, :data:`dfbench.precision.TOLERANCE` in bf16), and — because
tracing freezes one path through the Python code — the graph run in fp32 must also match torch
within 1e-3 on a second, different batch (:data:`FIDELITY`: other faces, another batch size, an
all-black and an all-white crop). The tracer's warnings are recorded with the run.

**``auto``** (the default): with ``--precision auto`` on a CPU where OpenVINO is installed, the
candidates are OpenVINO bf16 (CPUs with native bf16), OpenVINO fp32, then torch's configurations
(:func:`dfbench.precision.choose`); the first that passes wins. On these machines OpenVINO runs
LAA-Net's EfficientNet-B4 at 384 px ~1.9x faster than torch bf16 + channels_last and ~3x faster
than torch fp32 (``make bench``). A detector that cannot be exported (FFT layers, for instance)
falls back to torch with the reason recorded. An explicit ``--precision``, ``--channels-last`` or
``--compile`` is a torch setting and keeps torch. The choice is cached like the precision choice;
a cached choice that no longer passes its check is made again.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DfbenchError, brief
from .onnx_export import OPSET, BackendUnavailable, cached_export, export_onnx  # noqa: F401  (public here)
from .precision import (
    AUTO,
    CALIBRATION,
    TOLERANCE,
    PrecisionChoice,
    cache_dir,
    cache_key,
    calibration_units,
    candidates,
    choose,
    cpu_has_fast_bf16,
    deviation_limit,
    device_tag,
    read_cached,
    reference_logits,
    relative_tolerance_for,
    write_cached,
)

log = logging.getLogger(__name__)

BACKENDS = ("torch", "openvino", "onnxruntime")
EXPORTED = ("openvino", "onnxruntime")
"""Backends that run an ONNX export of the detector."""
PRECISIONS_OF = {"openvino": ("bf16", "fp32"), "onnxruntime": ("fp32",)}
MAX_DEVIATION = 1e-3
"""Largest |logit(exported, fp32) - logit(torch fp32)| accepted."""
FIDELITY = "graph check: 3 more synthetic faces (seeds 2-3), an all-black crop, an all-white crop (3 calls), fp32, <= 1e-3"
_INSTALL = {"onnxruntime": "pip install onnxruntime onnx", "openvino": "pip install openvino onnx"}


class ExportMismatch(DfbenchError):
    """The exported model's logits are further from torch than allowed."""

    def __init__(self, message: str, deviation: float) -> None:
        super().__init__(message)
        self.deviation = deviation


def installed(backend: str) -> bool:
    """True when ``backend``'s runtime can be imported (torch always can)."""
    if backend == "torch":
        return True
    return importlib.util.find_spec(backend) is not None and importlib.util.find_spec("onnx") is not None


def check_backend(backend: str) -> None:
    if backend != AUTO and backend not in BACKENDS:
        raise DfbenchError(f"--backend must be one of auto, {', '.join(BACKENDS)}, got {backend!r}")
    if backend in EXPORTED and not installed(backend):
        raise BackendUnavailable(f"--backend {backend} needs its runtime: {_INSTALL[backend]}")


def precision_for(backend: str, precision: str, channels_last: Any) -> tuple[str, Any]:
    """The precision/layout an explicit exported backend may run (``auto`` stays ``auto``);
    layout is the runtime's own business."""
    check_backend(backend)
    if backend in (AUTO, "torch"):
        return precision, channels_last
    allowed = PRECISIONS_OF[backend]
    if precision != AUTO and precision not in allowed:
        raise DfbenchError(f"--backend {backend} runs {' or '.join(allowed)}; drop --precision {precision} "
                           f"or use --backend torch")
    return (precision if precision != AUTO else (AUTO if len(allowed) > 1 else allowed[0])), False


def version(backend: str) -> str:
    import importlib.metadata as md

    try:
        return md.version(backend)
    except md.PackageNotFoundError:
        return "unknown"


def exported_candidates(device: str, backend: str) -> list[tuple[str, str]]:
    """(backend, precision) of the exported runtimes to try for ``--backend backend``, fastest first."""
    import torch

    if backend == "onnxruntime":
        return [("onnxruntime", "fp32")]
    on_cpu = torch.device(device).type == "cpu"
    if backend == "openvino" or (backend == AUTO and on_cpu and installed("openvino")):
        return [("openvino", p) for p in PRECISIONS_OF["openvino"] if p != "bf16" or cpu_has_fast_bf16()]
    return []


def execution_candidates(device: str, unit: str = "frame", backend: str = AUTO) -> list[tuple[str, str, bool]]:
    """(backend, precision, channels_last) that ``--backend backend`` would try, in order."""
    torch_order = [("torch", p, cl) for p, cl in candidates(device, unit)]
    exported = [(b, p, False) for b, p in exported_candidates(device, backend)] if backend != "torch" else []
    return exported + (torch_order if backend in (AUTO, "torch") else [])


# -- runtimes -----------------------------------------------------------------------------------


class OnnxRuntimeModel:
    """Callable like a detector: uint8 crops (torch) -> float32 logits (torch), run by ONNX Runtime."""

    precision = "fp32"

    def __init__(self, onnx_path: str | Path, device: str = "cpu", threads: int | None = None) -> None:
        import os

        import onnxruntime as ort
        import torch

        so = ort.SessionOptions()
        so.intra_op_num_threads = int(threads or torch.get_num_threads())
        so.inter_op_num_threads = 1
        if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE":
            # Same reasoning as dfbench/threads.py: idle workers sleep instead of spinning.
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda"):
            providers.insert(0, "CUDAExecutionProvider")
        self.session = ort.InferenceSession(str(onnx_path), so, providers=providers)
        self.path = Path(onnx_path)

    def __call__(self, x: Any) -> Any:
        import torch

        arr = x.detach().cpu().contiguous().numpy()
        out = self.session.run(["logits"], {"crops": arr})[0]
        return torch.from_numpy(np.asarray(out, dtype=np.float32).reshape(len(arr))).to(x.device)


class OpenVinoModel:
    """Callable like a detector: uint8 crops (torch) -> float32 logits (torch), run by OpenVINO's CPU
    plugin. ``precision`` is what the plugin reports it computes in (``bf16`` needs a CPU with
    native bf16; elsewhere OpenVINO computes fp32 and this says so)."""

    def __init__(self, onnx_path: str | Path, device: str = "cpu", threads: int | None = None,
                 precision: str = "fp32") -> None:
        import openvino as ov
        import torch

        if not str(device).startswith("cpu"):
            raise BackendUnavailable(f"--backend openvino runs on the CPU here, not on --device {device}")
        if precision not in PRECISIONS_OF["openvino"]:
            raise DfbenchError(f"--backend openvino runs bf16 or fp32, not {precision}")
        config = {
            "INFERENCE_NUM_THREADS": int(threads or torch.get_num_threads()),
            "INFERENCE_PRECISION_HINT": {"bf16": "bf16", "fp32": "f32"}[precision],
            "PERFORMANCE_HINT": "LATENCY",  # one request at a time: the pipeline feeds batches in order
            # No pinning: on a shared machine a pinned thread cannot move off a core another
            # process is using (dfbench/threads.py: graceful under contention).
            "ENABLE_CPU_PINNING": False,
        }
        self.compiled = ov.Core().compile_model(str(onnx_path), "CPU", config)
        actual = str(self.compiled.get_property("INFERENCE_PRECISION_HINT")).lower()
        self.precision = "bf16" if ("bf16" in actual or "bfloat16" in actual) else "fp32"
        self.request = self.compiled.create_infer_request()
        self.path = Path(onnx_path)

    def __call__(self, x: Any) -> Any:
        import torch

        arr = np.ascontiguousarray(x.detach().cpu().numpy())
        out = self.request.infer({0: arr})[0]
        return torch.from_numpy(np.array(out, dtype=np.float32).reshape(len(arr))).to(x.device)


def runtime(backend: str, onnx_path: Path, device: str, precision: str) -> Any:
    """The runtime's callable model; any failure to load is :class:`BackendUnavailable`."""
    try:
        if backend == "openvino":
            return OpenVinoModel(onnx_path, device=device, precision=precision)
        return OnnxRuntimeModel(onnx_path, device=device)
    except DfbenchError:
        raise
    except Exception as e:  # the runtime's own errors (unsupported op, bad file, ...)
        raise BackendUnavailable(f"{backend} cannot load {onnx_path} ({brief(e)})") from e


# -- checked, ready-to-run exported models --------------------------------------------------------


@dataclass
class Prepared:
    """An exported model that passed its checks, and what the run records about it."""

    backend: str
    precision: str
    model: Any
    record: dict[str, Any] = field(default_factory=dict)
    model_input_shape: tuple[int, ...] = ()
    """One unit's shape (without the batch axis)."""


def fidelity_batches(detector: Any) -> list[np.ndarray]:
    """Other inputs for the graph check, as separate calls (another batch size, and batches whose
    statistics differ from the calibration batch's): 3 faces, an all-black crop, an all-white crop."""
    units = calibration_units(detector, 4, seed=2)[:3]
    return [np.ascontiguousarray(units), np.zeros_like(units[:1]), np.full_like(units[:1], 255)]


def _max_dev(model: Any, units: np.ndarray, ref: np.ndarray) -> float:
    import torch

    try:
        got = model(torch.from_numpy(units)).numpy().astype(np.float64)
    except Exception as e:  # e.g. a graph whose output shape was frozen by tracing
        raise ExportMismatch(f"the exported model failed on a batch of {len(units)} ({brief(e)})",
                             float("inf")) from e
    if got.shape != ref.shape:
        raise ExportMismatch(f"the exported model returned {got.shape} logits for {ref.shape}", float("inf"))
    return float(np.abs(got - ref).max()) if np.isfinite(got).all() else float("inf")


def _graph_deviation(detector: Any, graph: Any, device: str) -> float:
    return max(_max_dev(graph, b, reference_logits(detector, b, device)) for b in fidelity_batches(detector))


def prepare(detector: Any, device: str, backend: str, precision: str, tolerance: float = TOLERANCE,
            units: np.ndarray | None = None, ref: np.ndarray | None = None) -> Prepared:
    """Export (cached), load and check ``detector`` on ``backend`` in ``precision``."""
    check_backend(backend)
    if not getattr(detector, "exportable", True):
        raise BackendUnavailable(f"{type(detector).__name__} cannot be exported to ONNX (it says so: its forward "
                                 f"runs outside torch)")
    path, cached, tracer = cached_export(detector)
    model = runtime(backend, path, device, precision)
    units = calibration_units(detector) if units is None else units
    ref = reference_logits(detector, units, device) if ref is None else ref
    dev = _max_dev(model, units, ref)
    limit = (MAX_DEVIATION if model.precision == "fp32"
             else deviation_limit(ref, tolerance, relative_tolerance_for(detector)))
    if dev > limit:
        raise ExportMismatch(f"--backend {backend} ({model.precision}): logits differ from torch fp32 by {dev:.3g} "
                             f"(> {limit}) on the calibration batch; use --backend torch (exported model: {path})", dev)
    # A Python decision frozen by tracing shows on other inputs; fp32, so bf16 rounding cannot hide it.
    graph = model if model.precision == "fp32" else runtime(backend, path, device, "fp32")
    fid = _graph_deviation(detector, graph, device)
    if fid > MAX_DEVIATION:
        hint = f"; tracer warnings: {tracer[:3]}" if tracer else ""
        raise ExportMismatch(f"--backend {backend}: the exported graph differs from torch by {fid:.3g} on other inputs "
                             f"(a data-dependent branch frozen by tracing?){hint}; use --backend torch", fid)
    record = {"name": backend, "version": version(backend), "precision": model.precision,
              "requested_precision": precision, "opset": OPSET, "onnx": str(path), "cached_export": cached,
              "max_abs_logit_dev_vs_torch": round(dev, 8), "tolerance": limit,
              "graph_check_max_abs_dev_fp32": round(fid, 8), "graph_check": FIDELITY,
              "tracer_warnings": tracer[:10]}
    if backend == "onnxruntime":
        record["providers"] = model.session.get_providers()
    return Prepared(backend, model.precision, model, record, tuple(units.shape[1:]))


def install(model_stage: Any, prepared: Prepared) -> dict[str, Any]:
    """Run ``model_stage``'s batches on the prepared model; returns the record for results.json."""
    model_stage.model = prepared.model
    model_stage.exported = {"backend": prepared.backend, "precision": prepared.precision}
    # The runtime specialises its kernels per input shape on the first call; run the stage's batch
    # shape once here, in set-up, so the first batch of the run does not pay it (on a busy machine
    # that first call alone cost more than a short run's whole model stage).
    import torch

    shape = (model_stage.batch_size, *prepared.model_input_shape)
    prepared.model(torch.zeros(shape, dtype=torch.uint8))
    return prepared.record


def attach(model_stage: Any, backend: str, device: str = "cpu", precision: str = "fp32",
           tolerance: float = TOLERANCE) -> dict[str, Any]:
    """:func:`prepare` + :func:`install` for ``model_stage``'s detector (torch: nothing to do)."""
    check_backend(backend)
    if backend == "torch":
        return {"name": "torch"}
    return install(model_stage, prepare(model_stage.detector, device, backend, precision, tolerance))


def protocol_entry(prepared: Prepared | None) -> dict[str, Any]:
    """What a run's protocol (and hash) says about the runtime: nothing for torch, so the hashes
    of torch runs stay as they were; name, version and opset for an exported runtime."""
    if prepared is None:
        return {}
    return {"backend": {"name": prepared.backend, "version": prepared.record["version"], "opset": OPSET}}


# -- the automatic choice -------------------------------------------------------------------------


def resolve_execution(detector: Any, detector_id: str, device: str, backend: str = AUTO, precision: str = AUTO,
                      channels_last: Any = AUTO, compile: bool = False, tolerance: float = TOLERANCE,
                      use_cache: bool = True) -> tuple[PrecisionChoice, Prepared | None]:
    """The run's configuration: ``(choice, prepared exported model or None for torch)``."""
    check_backend(backend)
    if compile:
        if backend in EXPORTED:
            raise DfbenchError(f"--compile is torch.compile; it does not apply to --backend {backend}")
        backend = "torch"
    precision, channels_last = precision_for(backend, precision, channels_last)
    explicit_layout = channels_last not in (AUTO, None) and backend == AUTO
    if backend == "torch" or (backend == AUTO and (precision != AUTO or explicit_layout)):
        return choose(detector, detector_id, device, precision, channels_last, tolerance, use_cache), None
    if precision != AUTO:  # explicit exported backend in an explicit precision: it runs or the run stops
        prepared = prepare(detector, device, backend, precision, tolerance)
        return PrecisionChoice(prepared.precision, False, device=str(device), backend=backend), prepared
    order = exported_candidates(device, backend)
    if not order:  # auto on a GPU or without OpenVINO
        return choose(detector, detector_id, device, AUTO, channels_last, tolerance, use_cache), None
    runtimes = {b: version(b) for b in sorted({b for b, _ in order})}
    extra = {"runtimes": runtimes, "check": FIDELITY, "requested": backend}
    path = cache_dir() / f"{cache_key(detector_id, detector, device, order, tolerance, extra)}.json"
    cached = read_cached(path) if use_cache else None
    if cached is not None and cached.backend == "torch":
        return cached, None
    if cached is not None:
        try:
            return cached, prepare(detector, device, cached.backend, cached.precision, tolerance)
        except DfbenchError as e:
            log.warning("the cached choice %s no longer passes its check (%s); choosing again", cached.describe(), e)
    units = calibration_units(detector)
    ref = reference_logits(detector, units, device)
    tried: list[dict[str, Any]] = []
    unexportable = None
    for b, p in order:
        row: dict[str, Any] = {"backend": b, "precision": p, "channels_last": False}
        if unexportable:
            tried.append({**row, "error": unexportable})
            continue
        try:
            prepared = prepare(detector, device, b, p, tolerance, units, ref)
        except ExportMismatch as e:
            dev = round(e.deviation, 6) if np.isfinite(e.deviation) else None
            tried.append({**row, "max_abs_logit_dev": dev, "within_tolerance": False,
                          "error": str(e)[:300]})
            continue
        except BackendUnavailable as e:
            tried.append({**row, "error": str(e)[:300]})
            unexportable = str(e)[:300] if "cannot be exported" in str(e) else None
            continue
        dev = prepared.record["max_abs_logit_dev_vs_torch"]
        tried.append({**row, "precision": prepared.precision, "max_abs_logit_dev": dev, "within_tolerance": True})
        choice = PrecisionChoice(prepared.precision, False, mode=AUTO, tolerance=tolerance, max_abs_logit_dev=dev,
                                 mean_abs_logit_dev=None, candidates=tried, device=str(device),
                                 capability=device_tag(device), calibration=CALIBRATION, backend=b,
                                 relative_tolerance=relative_tolerance_for(detector))
        if use_cache:
            write_cached(path, choice)
        return choice, prepared
    if backend != AUTO:
        raise BackendUnavailable(f"--backend {backend} cannot run {detector_id}: "
                                 + "; ".join(r.get("error", "") for r in tried))
    torch_choice = choose(detector, detector_id, device, AUTO, channels_last, tolerance, use_cache)
    combined = replace(torch_choice, candidates=tried + list(torch_choice.candidates), cached=False)
    if use_cache:
        write_cached(path, combined)
    return combined, None


__all__ = ["BACKENDS", "EXPORTED", "BackendUnavailable", "ExportMismatch", "OnnxRuntimeModel", "OpenVinoModel",
           "Prepared", "attach", "check_backend", "execution_candidates", "export_onnx", "install", "prepare",
           "precision_for", "protocol_entry", "resolve_execution", "runtime"]
