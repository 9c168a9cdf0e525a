"""``--backend torch|onnxruntime``: which runtime executes a detector's network.

``torch`` (the default) runs the detector eagerly (or with ``--compile``). ``onnxruntime`` exports
the whole detector, uint8 crops in and fake logits out (normalisation and any fast-path rewrite
such as LAA-Net's folded BatchNorm included), with ``torch.onnx.export`` and runs it with ONNX
Runtime's CPU (or CUDA) provider. Before a run uses it, its logits are checked against the torch
path on a calibration batch: more than :data:`MAX_DEVIATION` apart and the run stops.

Exported models are cached under ``$DFBENCH_CACHE/onnx/``, keyed by a hash of the weights, the
input shape and the torch/dfbench versions, because exporting a large network takes a while.
ONNX Runtime computes in fp32 here (its CPU provider has no general bf16 path), so ``--precision
auto`` resolves to fp32 with this backend and an explicit bf16/fp16 is refused.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import DfbenchError

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnxruntime")
OPSET = 17
MAX_DEVIATION = 1e-3
"""Largest |logit(onnxruntime) - logit(torch fp32)| accepted on the calibration batch."""


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise DfbenchError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "onnxruntime":
        try:
            import onnxruntime  # noqa: F401
        except ImportError as e:
            raise DfbenchError("--backend onnxruntime needs ONNX Runtime: pip install onnxruntime onnx") from e


def precision_for(backend: str, precision: str, channels_last: Any) -> tuple[str, Any]:
    """The precision/layout a backend runs: ONNX Runtime is fp32 (layout is its own business)."""
    check_backend(backend)
    if backend == "torch":
        return precision, channels_last
    if precision not in ("auto", "fp32"):
        raise DfbenchError(f"--backend {backend} runs fp32; drop --precision {precision} or use --backend torch")
    return "fp32", False


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
        det.configure_inference(heads=("cls",))
    x = det.example_input(batch=batch, seed=0)
    with torch.inference_mode():
        det(x)  # builds lazily made fast-path copies (e.g. folded BatchNorm) before tracing
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with torch.no_grad():
        torch.onnx.export(det, (x,), str(tmp), dynamo=False, input_names=["crops"], output_names=["logits"],
                          dynamic_axes={"crops": {0: "batch"}, "logits": {0: "batch"}}, opset_version=OPSET)
    tmp.replace(path)
    return path


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


def attach(model_stage: Any, backend: str, device: str = "cpu") -> dict[str, Any]:
    """Swap ``model_stage.model`` for ``backend`` after checking its logits; returns the record."""
    check_backend(backend)
    if backend == "torch":
        return {"name": "torch"}
    import onnxruntime as ort
    import torch

    from .precision import calibration_units

    det = model_stage.detector
    key = hashlib.sha256("|".join([_weights_digest(det), str(det.input_spec.to_dict()), torch.__version__,
                                   __version__, str(OPSET)]).encode()).hexdigest()[:20]
    path = _cache_root() / f"{key}.onnx"
    cached = path.is_file()
    if not cached:
        log.info("exporting %s to ONNX (%s)", type(det).__name__, path)
        export_onnx(det, path)
    model = OnnxRuntimeModel(path, device=device)
    units = calibration_units(det)
    x = torch.from_numpy(units)
    with torch.inference_mode():
        ref = det(x.to(det.device)).float().cpu().numpy()
    got = model(x).numpy()
    dev = float(np.abs(got - ref).max())
    if not np.isfinite(got).all() or dev > MAX_DEVIATION:
        raise DfbenchError(f"--backend {backend}: logits differ from torch by {dev:.3g} (> {MAX_DEVIATION}) on the "
                           f"calibration batch; use --backend torch (exported model: {path})")
    model_stage.model = model
    return {"name": backend, "version": ort.__version__, "opset": OPSET, "onnx": str(path), "cached_export": cached,
            "max_abs_logit_dev_vs_torch": round(dev, 8), "providers": model.session.get_providers()}
