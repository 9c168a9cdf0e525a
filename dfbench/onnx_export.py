"""A detector as an ONNX graph for the exported runtimes (``--backend openvino|onnxruntime``).

The whole detector is exported — uint8 crops in, fake logits out, normalisation and fast-path
rewrites such as LAA-Net's folded BatchNorm included — with ``torch.onnx.export`` (TorchScript
tracer, opset 17, dynamic batch, NCHW). Exports are cached under ``$DFBENCH_CACHE/onnx/``, keyed
by the weights as loaded, a fingerprint of the detector's code and inference options, the input
spec and the torch/dfbench versions (:func:`export_key`): a graph is never reused for edited code.

Tracing records one path through the Python code. The tracer's warnings (a tensor turned into a
Python bool, ...) are kept and returned, because a data-dependent branch would be frozen into the
graph; :mod:`dfbench.backends` records them and checks the graph on a second, different batch.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import warnings
from pathlib import Path
from typing import Any

from . import __version__
from .errors import DfbenchError, brief

log = logging.getLogger(__name__)

OPSET = 17


class BackendUnavailable(DfbenchError):
    """The backend's runtime is not installed or cannot run this detector."""


def cache_root() -> Path:
    from .fileio import cache_root as dfbench_cache

    return dfbench_cache("onnx")


@contextlib.contextmanager
def _quiet_onnx_log():
    """torch's TorchScript exporter turns its C++ log on for every export (its ``setup_onnx_logging``
    tests a function object for truth) and then dumps the whole graph to stderr when a layer cannot
    be exported; the exception already says which. Keep the log as the caller had it."""
    import torch

    try:
        from torch.onnx._internal.torchscript_exporter import utils as ts_utils
    except ImportError:  # another torch layout: leave its logging alone
        yield
        return
    was_enabled = bool(torch._C._jit_is_onnx_log_enabled())
    original = getattr(ts_utils, "setup_onnx_logging", None)
    ts_utils.setup_onnx_logging = lambda verbose: contextlib.nullcontext()
    try:
        yield
    finally:
        if original is not None:
            ts_utils.setup_onnx_logging = original
        torch._C._jit_set_onnx_log_enabled(was_enabled)


def export_onnx(detector: Any, path: str | Path, batch: int = 2) -> list[str]:
    """Export ``detector`` (uint8 -> logits, dynamic batch) to ``path``; returns the tracer's
    warnings (``file:line: message``), which say where tracing froze a Python decision."""
    import torch

    det = copy.deepcopy(detector).eval().float().to("cpu")
    if hasattr(det, "configure_inference"):
        # ONNX has no memory formats: the exported graph is the plain NCHW computation.
        det.configure_inference(heads=("cls",), channels_last=False)
    x = det.example_input(batch=batch, seed=0)
    with torch.inference_mode():
        det(x)  # builds lazily made fast-path copies (e.g. folded BatchNorm) before tracing
    return trace_to_onnx(det, x, path, input_name="crops", output_name="logits")


def trace_to_onnx(module: Any, example: Any, path: str | Path, *, input_name: str, output_name: str,
                  opset: int = OPSET) -> list[str]:
    """``torch.onnx.export`` (TorchScript tracer, dynamic batch) of ``module`` on ``example`` to
    ``path``, written atomically; returns the tracer's warnings (``file:line: message``).

    The one tracing step of both exporters: the runtime cache here and ``dfbench export``'s
    portable files (:mod:`dfbench.zoo.export`)."""
    import torch

    from .fileio import atomic_target

    # nn.MultiheadAttention's inference fast path is one fused op ONNX does not know; the plain
    # path computes the same attention (ViT encoders such as UnivFD's CLIP tower).
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with atomic_target(path) as tmp, torch.no_grad(), warnings.catch_warnings(record=True) as caught, \
                _quiet_onnx_log():
            warnings.simplefilter("always")
            torch.onnx.export(module, (example,), str(tmp), dynamo=False, input_names=[input_name],
                              output_names=[output_name],
                              dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
                              opset_version=opset)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    # Only the tracer's own warnings matter; the constant-folding notes are about its graph passes.
    tracer = [f"{Path(w.filename).name}:{w.lineno}: {str(w.message).splitlines()[0][:160]}"
              for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
    return list(dict.fromkeys(tracer))


def export_key(detector: Any) -> str:
    import torch

    from .precision import code_fingerprint, weights_digest

    blob = json.dumps({"weights": weights_digest(detector), "code": code_fingerprint(detector),
                       "input": detector.input_spec.to_dict(), "torch": torch.__version__, "dfbench": __version__,
                       "opset": OPSET}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def cached_export(detector: Any) -> tuple[Path, bool, list[str]]:
    """``(path, was_cached, tracer warnings)`` of the detector's export under ``$DFBENCH_CACHE/onnx/``."""
    path = cache_root() / f"{export_key(detector)}.onnx"
    notes = path.with_suffix(".tracer.json")
    if path.is_file():
        try:
            return path, True, json.loads(notes.read_text()) if notes.is_file() else []
        except (OSError, ValueError):
            pass
    log.info("exporting %s to ONNX (%s)", type(detector).__name__, path)
    try:
        tracer = export_onnx(detector, path)
    except Exception as e:
        raise BackendUnavailable(f"{type(detector).__name__} cannot be exported to ONNX ({brief(e)})") from e
    try:
        notes.write_text(json.dumps(tracer))
    except OSError:
        pass
    return path, False, tracer


__all__ = ["BackendUnavailable", "OPSET", "cache_root", "cached_export", "export_key", "export_onnx"]
