"""``--backend auto|torch|openvino|onnxruntime``: which runtime executes a detector's network.

``torch`` runs the detector eagerly (or with ``--compile``). ``openvino`` and ``onnxruntime``
export the whole detector, uint8 crops in and fake logits out (normalisation and any fast-path
rewrite such as LAA-Net's folded BatchNorm included), with ``torch.onnx.export`` and run it with
OpenVINO's CPU plugin or ONNX Runtime's CPU (or CUDA) provider. Before a run uses an exported
model, its logits are checked against torch fp32 on the calibration batch
(:func:`dfbench.precision.calibration_units`): further apart than the precision's tolerance
(:data:`MAX_DEVIATION` for fp32, :data:`dfbench.precision.TOLERANCE` for bf16) and the run stops.

``auto`` (the default) is resolved together with ``--precision auto`` by
:func:`dfbench.precision.choose`: on a CPU, OpenVINO first (bf16 where the CPU has native bf16,
then fp32), then torch — on these machines OpenVINO runs LAA-Net's EfficientNet-B4 at 384 px
1.9x faster than torch bf16 + channels_last and 3.3x faster than torch fp32 (``make bench``).
A detector that cannot be exported (FFT layers, for instance) falls back to torch, and the
reason is recorded with the choice.

Exported models are cached under ``$DFBENCH_CACHE/onnx/``, keyed by a hash of the weights, the
input shape and the torch/dfbench versions, because exporting a large network takes a while.
ONNX Runtime computes in fp32 here (its CPU provider has no general bf16 path), so ``--precision
auto`` resolves to fp32 with this backend and an explicit bf16/fp16 is refused. OpenVINO takes
fp32 or bf16 (its ``INFERENCE_PRECISION_HINT``); fp16/fp64 are refused.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import DfbenchError

log = logging.getLogger(__name__)

AUTO = "auto"
BACKENDS = ("torch", "openvino", "onnxruntime")
EXPORTED = ("openvino", "onnxruntime")
"""Backends that run an ONNX export of the detector."""
PRECISIONS_OF = {"openvino": ("bf16", "fp32"), "onnxruntime": ("fp32",)}
OPSET = 17
MAX_DEVIATION = 1e-3
"""Largest |logit(exported, fp32) - logit(torch fp32)| accepted on the calibration batch."""
_INSTALL = {"onnxruntime": "pip install onnxruntime onnx", "openvino": "pip install openvino onnx"}


class BackendUnavailable(DfbenchError):
    """The backend's runtime is not installed or cannot run this detector."""


def installed(backend: str) -> bool:
    """True when ``backend``'s runtime can be imported (torch always can)."""
    if backend == "torch":
        return True
    import importlib.util

    return importlib.util.find_spec(backend) is not None and importlib.util.find_spec("onnx") is not None


def check_backend(backend: str) -> None:
    if backend != AUTO and backend not in BACKENDS:
        raise DfbenchError(f"--backend must be one of auto, {', '.join(BACKENDS)}, got {backend!r}")
    if backend in EXPORTED and not installed(backend):
        raise BackendUnavailable(f"--backend {backend} needs its runtime: {_INSTALL[backend]}")


def precision_for(backend: str, precision: str, channels_last: Any) -> tuple[str, Any]:
    """The precision/layout an explicit exported backend may run (``auto`` stays ``auto``, resolved
    by :func:`dfbench.precision.choose`); layout is the runtime's own business."""
    check_backend(backend)
    if backend in (AUTO, "torch"):
        return precision, channels_last
    allowed = PRECISIONS_OF[backend]
    if precision != AUTO and precision not in allowed:
        raise DfbenchError(f"--backend {backend} runs {' or '.join(allowed)}; drop --precision {precision} "
                           f"or use --backend torch")
    return (precision if precision != AUTO else (AUTO if len(allowed) > 1 else allowed[0])), False


def resolve_execution(detector: Any, detector_id: str, device: str, backend: str, precision: str,
                      channels_last: Any) -> Any:
    """The run's :class:`dfbench.precision.PrecisionChoice` (backend included) for the CLI's settings."""
    from .precision import choose

    precision, channels_last = precision_for(backend, precision, channels_last)  # onnxruntime: fp32
    # With --executor ray the model stays in this (driver) process unless it needs a cluster GPU,
    # where the exported runtimes are never candidates: the same resolution holds.
    return choose(detector, detector_id, device, precision, channels_last, backend=backend)


def _weights_digest(detector: Any) -> str:
    h = hashlib.sha256()
    for k, v in sorted(detector.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _cache_root() -> Path:
    return Path(os.environ.get("DFBENCH_CACHE", Path.home() / ".cache" / "dfbench")) / "onnx"


def export_onnx(detector: Any, path: str | Path, batch: int = 2) -> Path:
    """Export ``detector`` (uint8 -> logits, dynamic batch) to ``path`` with torch.onnx.export."""
    import torch

    det = copy.deepcopy(detector).eval().float().to("cpu")
    if hasattr(det, "configure_inference"):
        # ONNX has no memory formats: the exported graph is the plain NCHW computation.
        det.configure_inference(heads=("cls",), channels_last=False)
    x = det.example_input(batch=batch, seed=0)
    with torch.inference_mode():
        det(x)  # builds lazily made fast-path copies (e.g. folded BatchNorm) before tracing
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    # nn.MultiheadAttention's inference fast path is one fused op ONNX does not know; the plain
    # path computes the same attention (ViT encoders such as UnivFD's CLIP tower).
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        # The exporter's constant-folding notes are about its own graph passes, not the user's model.
        with torch.no_grad(), warnings.catch_warnings(), _quiet_onnx_log():
            warnings.simplefilter("ignore")
            torch.onnx.export(det, (x,), str(tmp), dynamo=False, input_names=["crops"], output_names=["logits"],
                              dynamic_axes={"crops": {0: "batch"}, "logits": {0: "batch"}}, opset_version=OPSET)
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    tmp.replace(path)
    return path


@contextlib.contextmanager
def _quiet_onnx_log():
    """torch's TorchScript exporter turns its C++ log on for every export (its ``setup_onnx_logging``
    tests a function object for truth) and then dumps the whole graph to stderr when a layer cannot
    be exported; the exception already says which. Keep the log off while exporting."""
    import torch

    try:
        from torch.onnx._internal.torchscript_exporter import utils as ts_utils
    except ImportError:  # another torch layout: leave its logging alone
        yield
        return
    original = getattr(ts_utils, "setup_onnx_logging", None)
    ts_utils.setup_onnx_logging = lambda verbose: contextlib.nullcontext()
    try:
        yield
    finally:
        if original is not None:
            ts_utils.setup_onnx_logging = original
        torch._C._jit_set_onnx_log_enabled(False)


def cached_export(detector: Any) -> tuple[Path, bool]:
    """``(path, was_cached)`` of the detector's ONNX export under ``$DFBENCH_CACHE/onnx/``."""
    import torch

    key = hashlib.sha256("|".join([_weights_digest(detector), str(detector.input_spec.to_dict()), torch.__version__,
                                   __version__, str(OPSET)]).encode()).hexdigest()[:20]
    path = _cache_root() / f"{key}.onnx"
    if path.is_file():
        return path, True
    log.info("exporting %s to ONNX (%s)", type(detector).__name__, path)
    try:
        export_onnx(detector, path)
    except Exception as e:
        raise BackendUnavailable(f"{type(detector).__name__} cannot be exported to ONNX "
                                 f"({type(e).__name__}: {str(e).splitlines()[0][:200]})") from e
    return path, False


class OnnxRuntimeModel:
    """Callable like a detector: uint8 crops (torch) -> float32 logits (torch), run by ONNX Runtime."""

    def __init__(self, onnx_path: str | Path, device: str = "cpu", threads: int | None = None) -> None:
        import onnxruntime as ort
        import torch

        so = ort.SessionOptions()
        so.intra_op_num_threads = int(threads or torch.get_num_threads())
        so.inter_op_num_threads = 1
        if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE":
            # Same reasoning as dfbench/threads.py: idle workers sleep instead of spinning.
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            providers.insert(0, "CUDAExecutionProvider")
        self.session = ort.InferenceSession(str(onnx_path), so, providers=providers)
        self.path = Path(onnx_path)

    def __call__(self, x: Any) -> Any:
        import torch

        arr = x.detach().cpu().contiguous().numpy()
        out = self.session.run(["logits"], {"crops": arr})[0]
        return torch.from_numpy(np.asarray(out, dtype=np.float32)).to(x.device)


class OpenVinoModel:
    """Callable like a detector: uint8 crops (torch) -> float32 logits (torch), run by OpenVINO's CPU
    plugin in ``precision`` (``bf16``: its native bf16 kernels on AMX/AVX-512-bf16 CPUs)."""

    def __init__(self, onnx_path: str | Path, device: str = "cpu", threads: int | None = None,
                 precision: str = "fp32") -> None:
        import openvino as ov
        import torch

        if not str(device).startswith("cpu"):
            raise BackendUnavailable(f"--backend openvino runs on the CPU here, not on --device {device}")
        if precision not in PRECISIONS_OF["openvino"]:
            raise DfbenchError(f"--backend openvino runs bf16 or fp32, not {precision}")
        self.precision = precision
        config = {
            "INFERENCE_NUM_THREADS": int(threads or torch.get_num_threads()),
            "INFERENCE_PRECISION_HINT": {"bf16": "bf16", "fp32": "f32"}[precision],
            "PERFORMANCE_HINT": "LATENCY",  # one request at a time: the pipeline feeds batches in order
            # No pinning: on a shared machine a pinned thread cannot move off a core another
            # process is using (dfbench/threads.py: graceful under contention).
            "ENABLE_CPU_PINNING": False,
        }
        self.compiled = ov.Core().compile_model(str(onnx_path), "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.path = Path(onnx_path)

    def __call__(self, x: Any) -> Any:
        import torch

        arr = np.ascontiguousarray(x.detach().cpu().numpy())
        out = self.request.infer({0: arr})[0]
        return torch.from_numpy(np.array(out, dtype=np.float32).reshape(len(arr))).to(x.device)


def runtime(backend: str, onnx_path: Path, device: str, precision: str) -> Any:
    if backend == "openvino":
        return OpenVinoModel(onnx_path, device=device, precision=precision)
    return OnnxRuntimeModel(onnx_path, device=device)


def version(backend: str) -> str:
    import importlib.metadata as md

    try:
        return md.version(backend)
    except md.PackageNotFoundError:
        return "unknown"


def attach(model_stage: Any, backend: str, device: str = "cpu", precision: str = "fp32",
           tolerance: float | None = None) -> dict[str, Any]:
    """Swap ``model_stage.model`` for ``backend`` after checking its logits against torch fp32 on
    the calibration batch (within ``tolerance``; default :data:`MAX_DEVIATION` for fp32 and the
    precision tolerance for bf16); returns the record."""
    check_backend(backend)
    if backend == "torch":
        return {"name": "torch"}
    import torch

    from .precision import TOLERANCE, calibration_units

    if tolerance is None:
        tolerance = MAX_DEVIATION if precision == "fp32" else TOLERANCE
    det = model_stage.detector
    path, cached = cached_export(det)
    model = runtime(backend, path, device, precision)
    units = calibration_units(det)
    x = torch.from_numpy(units)
    ref_det = copy.deepcopy(det).float().to(memory_format=torch.contiguous_format)
    with torch.inference_mode():
        ref = ref_det(x.to(det.device)).float().cpu().numpy()
    got = model(x).numpy()
    dev = float(np.abs(got - ref).max())
    if not np.isfinite(got).all() or dev > tolerance:
        raise DfbenchError(f"--backend {backend} ({precision}): logits differ from torch fp32 by {dev:.3g} "
                           f"(> {tolerance}) on the calibration batch; use --backend torch (exported model: {path})")
    model_stage.model = model
    record = {"name": backend, "version": version(backend), "precision": precision, "opset": OPSET,
              "onnx": str(path), "cached_export": cached, "max_abs_logit_dev_vs_torch": round(dev, 8),
              "tolerance": tolerance}
    if backend == "onnxruntime":
        record["providers"] = model.session.get_providers()
    return record
