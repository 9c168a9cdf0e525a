"""``dfbench export DETECTOR --format onnx|torchscript``: any built-in detector as a portable file.

The exported graph takes the *normalised* float batch (``[B, C, S, S]`` or ``[B, T, C, S, S]``)
and returns one fake logit per sample; a sidecar ``<file>.yaml`` carries the detector's input
contract (size, mean/std, cropper and its settings, frames, aggregation, flip test), so that
``--detector onnx:<file>`` scores a dataset under the same protocol as the native detector.
The export is checked: the file is run on a test batch and must agree with the native detector.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import DfbenchError, first_line
from .byo import Contract

log = logging.getLogger(__name__)
FORMATS = ("onnx", "torchscript")
OPSET = 17
CHECK_RTOL = 1e-3


class _LogitGraph(nn.Module):
    """Normalised input -> fake logits ``[B]`` (the part of a detector worth exporting)."""

    def __init__(self, detector) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.detector.logits(x).float()


def _prepare(det) -> None:
    det.eval().float()
    # Fast-path switches change speed, never results; some (BatchNorm folding rebuilt at run time,
    # torch.compile) cannot be traced, so the plain graph is exported.
    if hasattr(det, "inference_options"):
        opts = det.inference_options()
        off = {k: False for k in ("fold_bn", "compile", "channels_last") if opts.get(k)}
        det.configure_inference(heads=("cls",), **off)


def export_detector(name: str, out: str | Path | None = None, fmt: str = "onnx", weights: str | None = None,
                    opset: int = OPSET) -> tuple[Path, Path]:
    """Write ``name``'s network (with its weights) to ``out``; returns (model file, sidecar)."""
    from ..build import build_detector, detector_id_of

    if fmt not in FORMATS:
        raise DfbenchError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    det = build_detector(name, weights=weights)
    if not det.trained:
        log.warning("%s has no trained weights: exporting random weights", name)
    _prepare(det)
    det_id = detector_id_of(det)
    path = Path(out) if out else Path(f"{det_id}.{'onnx' if fmt == 'onnx' else 'pt'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    graph = _LogitGraph(det).eval()
    x = det.normalise(det.example_input(batch=2))
    try:
        if fmt == "onnx":
            from ..onnx_export import trace_to_onnx

            # The tracer's notes on Python control flow: _check below runs the file on another batch.
            trace_to_onnx(graph, x, path, input_name="input", output_name="logit", opset=opset)
        else:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.jit.trace(graph, (x,)).save(str(path))
    except RuntimeError as e:  # an operator the format lacks, a trace that fails (torch.onnx's errors too)
        raise DfbenchError(f"cannot export {det_id} to {fmt}: {first_line(e, 300)}. Use --format "
                           f"{'torchscript' if fmt == 'onnx' else 'onnx'}, or score it natively "
                           f"(dfbench run --detector {det_id})") from e
    contract = Contract.from_input_spec(det.input_spec, output="logit").to_dict()
    sidecar = path.with_name(path.name + ".yaml")
    _write_sidecar(sidecar, contract, det_id, det.weights_info.get("sha256"))
    _check(path, fmt, graph, det)
    return path, sidecar


def _write_sidecar(path: Path, contract: dict[str, Any], det_id: str, sha: str | None) -> None:
    import yaml

    header = (f"# Input contract of {det_id} (weights sha256 {sha}), written by `dfbench export`.\n"
              f"# Use: dfbench run --detector {'onnx' if path.name.endswith('.onnx.yaml') else 'torchscript'}:"
              f"{path.name[:-len('.yaml')]} ...\n")
    path.write_text(header + yaml.safe_dump(contract, sort_keys=False))


def _check(path: Path, fmt: str, graph: nn.Module, det) -> None:
    """The exported file must reproduce the native logits on a fresh batch of another size."""
    x = det.normalise(det.example_input(batch=3, seed=7))
    with torch.no_grad():
        want = graph(x)
        if fmt == "onnx":
            from .byo import OnnxNet

            got = OnnxNet(path)(x)
        else:
            got = torch.jit.load(str(path), map_location="cpu")(x)
    err = float((got.float() - want).abs().max() / want.abs().max().clamp_min(1e-6))
    if not err <= CHECK_RTOL:
        path.unlink(missing_ok=True)
        raise DfbenchError(f"export of {det.spec.name} to {fmt} does not reproduce the native logits "
                           f"(relative error {err:.2e} > {CHECK_RTOL}); file removed")
