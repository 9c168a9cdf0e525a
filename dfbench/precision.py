"""``--precision auto`` / ``--channels-last auto``: the fastest configuration that keeps the logits.

For a (detector, device) pair the candidates are tried in the device's known speed order and the
first whose logits stay within :data:`TOLERANCE` of fp32 on a calibration batch wins:

- CPU with native bf16 kernels (AMX or AVX-512 bf16; oneDNN's own check, cross-checked with
  ``torch.backends.cpu.get_cpu_capability()`` and ``/proc/cpuinfo``): bf16 autocast +
  channels_last, then fp32 + channels_last, then fp32. Without them bf16 autocast runs emulated
  and is slower than fp32, so it is not a candidate.
- CUDA: fp16 autocast + channels_last (tensor cores), bf16 autocast + channels_last where the GPU
  supports it, then fp32 + channels_last, then fp32.
- anything else: fp32.

channels_last applies to frame detectors only (clip detectors take 5-D input), as in
:class:`dfbench.pipeline.ModelStage`. The order is what ``dfbench bench`` measures on these
devices; the calibration guards the numbers: a model whose logits move more than the tolerance
in bf16 falls back to fp32. The choice is cached on disk (``$DFBENCH_CACHE/precision/``), keyed
by detector id, weights hash, device, CPU/GPU capability and torch version, so it is made once.

``--precision fp32`` (or ``fp64``) stays the exact path: with an explicit full precision,
``--channels-last auto`` means off, i.e. the plain NCHW computation of the reference code.

This module knows torch only. Exported runtimes (OpenVINO, ONNX Runtime) come first on a CPU
under ``--backend auto``; :mod:`dfbench.backends` tries them and falls back to :func:`choose`,
reusing :class:`PrecisionChoice`, the calibration batch and the cache helpers here.

The cache key holds a digest of the weights *as loaded* and a fingerprint of the detector's code
(:func:`weights_digest`, :func:`code_fingerprint`), not only the weights file's sha256: detectors
without a file (``--allow-untrained``, in-memory fine-tuning) or with edited code must not inherit
another model's choice.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__

log = logging.getLogger(__name__)

TOLERANCE = 0.1
"""Largest |logit - fp32 logit| accepted on the calibration batch (a probability moves <= 0.025)."""
RELATIVE_TOLERANCE = 0.05
"""For trained detectors, also at most this fraction of the spread (max - min) of the fp32
calibration logits: a model whose logits barely differ between inputs (an at-chance probe on a
frozen encoder) would otherwise have near-tied videos reordered by bf16 rounding and its AUC
changed. Untrained detectors (benchmarks, ``--allow-untrained``) are timed, not ranked: their
near-constant random logits would rule out every fast configuration."""
CALIBRATION = "8 synthetic face crops (dfbench.testing.make_face_frames: 4 real, 4 tinted, seeds 0-1)"
CACHE_VERSION = 3
AUTO = "auto"


@dataclass
class PrecisionChoice:
    """The resolved configuration and how it was chosen (``mode``: ``auto`` or ``explicit``)."""

    precision: str
    channels_last: bool
    mode: str = "explicit"
    tolerance: float | None = None
    max_abs_logit_dev: float | None = None
    mean_abs_logit_dev: float | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    device: str = "cpu"
    capability: str | None = None
    calibration: str | None = None
    cached: bool = False
    backend: str = "torch"
    relative_tolerance: float | None = None
    """:data:`RELATIVE_TOLERANCE` when it applied (trained detectors), else None."""

    def protocol(self) -> dict[str, Any]:
        """The part that defines the computation (hashed): how it was chosen, not the measurement."""
        out = {"mode": self.mode, "tolerance": self.tolerance}
        if self.relative_tolerance is not None:
            out["relative_tolerance"] = self.relative_tolerance
        return out

    def record(self) -> dict[str, Any]:
        """Everything, for ``results.json`` (``env.precision_choice``) and the summary."""
        return asdict(self)

    def describe(self) -> str:
        cfg = self.precision + (" + channels_last" if self.channels_last else "")
        if self.backend != "torch":
            cfg = f"{self.backend} {cfg}"
        if self.mode != AUTO:
            return f"{cfg} (explicit)"
        return (f"{cfg} (auto on {self.device}: max |logit - fp32| {self.max_abs_logit_dev:.4f} "
                f"<= {self.tolerance} on the calibration batch)")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_capability() -> str:
    import torch

    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # pragma: no cover - very old torch
        return "unknown"


def cpu_has_fast_bf16() -> bool:
    """True where oneDNN runs bf16 natively (AMX-bf16 or AVX-512 bf16)."""
    import torch

    mk = torch.ops.mkldnn
    if hasattr(mk, "_is_mkldnn_bf16_supported"):
        # oneDNN's own answer; its AVX-512 "bf16 supported" includes plain AVX-512 (emulated),
        # so require the native instructions as well.
        if not mk._is_mkldnn_bf16_supported():
            return False
    flags = cpu_flags()
    if flags:
        return bool({"amx_bf16", "avx512_bf16"} & flags)
    return cpu_capability() in ("AVX512", "AMX")


def candidates(device: str, unit: str = "frame") -> list[tuple[str, bool]]:
    """(precision, channels_last) in the device's speed order, fastest first."""
    import torch

    dev = torch.device(device)
    if dev.type == "cpu":
        order = ([("bf16", True)] if cpu_has_fast_bf16() else []) + [("fp32", True), ("fp32", False)]
    elif dev.type == "cuda":
        major, _ = torch.cuda.get_device_capability(dev)
        order = [("fp16", True)] if major >= 7 else []
        if torch.cuda.is_bf16_supported():
            order.append(("bf16", True))
        order += [("fp32", True), ("fp32", False)]
    else:
        order = [("fp32", False)]
    if unit != "frame":  # channels_last is a 4-D layout; ModelStage ignores it for clips
        order = [(p, False) for p, _ in order]
    return list(dict.fromkeys(order))


def calibration_units(detector: Any, n: int = 8, seed: int = 0) -> np.ndarray:
    """uint8 units at the detector's input: synthetic faces (real and tinted), frames or clips
    (``seed`` and ``seed + 1`` for the two halves)."""
    from .testing import make_face_frames

    s = detector.input_spec
    half = max(1, n // 2)
    if s.unit == "clip":
        L = s.clip_length
        frames = np.concatenate([make_face_frames(L * half, size=(s.size, s.size), fake=f, seed=seed + i)
                                 for i, f in enumerate((False, True))])
        frames = frames[..., :1] if s.channels == 1 else frames
        return np.ascontiguousarray(frames.transpose(0, 3, 1, 2).reshape(-1, L, s.channels, s.size, s.size))
    frames = np.concatenate([make_face_frames(half, size=(s.size, s.size), fake=f, seed=seed + i)
                             for i, f in enumerate((False, True))])
    frames = frames[..., :1] if s.channels == 1 else frames
    return np.ascontiguousarray(frames.transpose(0, 3, 1, 2))


def _logits(detector: Any, units: np.ndarray, device: str, precision: str, channels_last: bool) -> np.ndarray:
    from .pipeline import ModelStage

    # ModelStage changes dtype and memory format in place: each configuration gets its own copy.
    stage = ModelStage(copy.deepcopy(detector), device=device, precision=precision,
                       channels_last=channels_last, flip_test=False, batch_size=len(units))
    return stage.logits(units)


def cache_dir() -> Path:
    from .fileio import cache_root

    return cache_root("precision")


def device_tag(device: str) -> str:
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    if dev.type == "cpu":
        return f"cpu:{cpu_capability()}:bf16={cpu_has_fast_bf16()}"
    return dev.type


def weights_digest(detector: Any) -> str:
    """sha256 of the detector's state dict as loaded (names, dtypes, shapes, values)."""
    import torch

    h = hashlib.sha256()
    for k, v in sorted(detector.state_dict().items()):
        t = v.detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.dtype in (torch.bfloat16, torch.float16):  # numpy has no bfloat16: hash the raw bits
            t = t.view(torch.int16)
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def code_fingerprint(detector: Any) -> str:
    """sha256 over the source files of the classes the detector is made of (the detector and
    every submodule), plus its inference options: edited code gives another fingerprint."""
    import sys

    h = hashlib.sha256()
    modules = {type(detector).__module__} | {type(m).__module__ for m in detector.modules()}
    for name in sorted(modules):
        h.update(name.encode())
        path = getattr(sys.modules.get(name), "__file__", None)
        if path and not name.startswith("torch."):
            try:
                h.update(Path(path).read_bytes())
            except OSError:
                pass
    h.update(type(detector).__qualname__.encode())
    opts = detector.inference_options() if hasattr(detector, "inference_options") else {}
    h.update(json.dumps(opts, sort_keys=True, default=str).encode())
    return h.hexdigest()


def cache_key(detector_id: str, detector: Any, device: str, order: list, tolerance: float,
              extra: dict[str, Any] | None = None) -> str:
    import torch

    blob = json.dumps({"v": CACHE_VERSION, "detector": detector_id, "weights": weights_digest(detector),
                       "code": code_fingerprint(detector), "device": device_tag(device),
                       "torch": torch.__version__, "dfbench": __version__, "candidates": order,
                       "tolerance": tolerance, "calibration": CALIBRATION, **(extra or {})},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def read_cached(path: Path) -> PrecisionChoice | None:
    if not path.is_file():
        return None
    try:
        got = PrecisionChoice(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        log.warning("ignoring unreadable precision cache %s", path)
        return None
    got.cached = True
    return got


def write_cached(path: Path, choice: PrecisionChoice) -> None:
    from .fileio import atomic_write_bytes

    try:
        atomic_write_bytes(path, json.dumps({**choice.record(), "cached": False}, indent=1).encode(), fsync=False)
    except OSError as e:  # a read-only cache must not stop a run
        log.warning("could not cache the precision choice in %s: %s", path, e)


def relative_tolerance_for(detector: Any) -> float | None:
    return RELATIVE_TOLERANCE if getattr(detector, "trained", False) else None


def deviation_limit(ref: np.ndarray, tolerance: float, relative: float | None) -> float:
    """The largest accepted |logit - fp32 logit| for calibration logits ``ref``."""
    if relative is None:
        return tolerance
    return min(tolerance, relative * float(np.max(ref) - np.min(ref)))


def reference_logits(detector: Any, units: np.ndarray, device: str = "cpu") -> np.ndarray:
    """torch fp32 NCHW logits: the reference every other configuration is checked against."""
    return _logits(detector, units, device, "fp32", False)


def choose(detector: Any, detector_id: str, device: str = "cpu", precision: str = AUTO,
           channels_last: bool | str = AUTO, tolerance: float = TOLERANCE, use_cache: bool = True
           ) -> PrecisionChoice:
    """Resolve ``auto`` settings for ``detector`` on ``device`` (explicit settings pass through)."""
    unit = detector.input_spec.unit
    cl_auto = channels_last == AUTO or channels_last is None
    if precision != AUTO:
        if cl_auto:
            # Explicit full precision = the exact path (NCHW); explicit bf16/fp16 = the fast layout.
            cl = precision in ("bf16", "fp16") and unit == "frame"
        else:
            cl = bool(channels_last)
        return PrecisionChoice(precision, cl and unit == "frame", device=str(device))
    order = candidates(device, unit)
    if not cl_auto:
        fixed = bool(channels_last) and unit == "frame"
        order = list(dict.fromkeys((p, fixed) for p, _ in order))
    path = cache_dir() / f"{cache_key(detector_id, detector, device, order, tolerance)}.json"
    got = read_cached(path) if use_cache else None
    if got is not None:
        return got
    try:
        choice = _calibrate(detector, device, order, tolerance)
    except Exception as e:  # a detector that cannot be copied or run in another precision
        log.warning("precision auto: calibration of %s failed (%s: %s); using fp32", detector_id, type(e).__name__, e)
        return PrecisionChoice("fp32", False, mode=AUTO, tolerance=tolerance, max_abs_logit_dev=0.0,
                               relative_tolerance=relative_tolerance_for(detector),
                               mean_abs_logit_dev=0.0, candidates=[{"error": f"{type(e).__name__}: {e}"}],
                               device=str(device), capability=device_tag(device), calibration=CALIBRATION)
    if use_cache:
        write_cached(path, choice)
    return choice


def _calibrate(detector: Any, device: str, order: list[tuple[str, bool]], tolerance: float) -> PrecisionChoice:
    units = calibration_units(detector)
    ref = reference_logits(detector, units, device)
    relative = relative_tolerance_for(detector)
    limit = deviation_limit(ref, tolerance, relative)
    tried: list[dict[str, Any]] = []
    chosen = None
    for prec, cl in order:
        y = ref if (prec, cl) == ("fp32", False) else _logits(detector, units, device, prec, cl)
        dev = np.abs(y - ref)
        ok = bool(np.isfinite(y).all() and dev.max() <= limit)
        tried.append({"precision": prec, "channels_last": cl, "max_abs_logit_dev": round(float(dev.max()), 6),
                      "within_tolerance": ok})
        if ok:
            chosen = (prec, cl, dev)
            break
    if chosen is None:  # nothing within tolerance (cannot happen for fp32 NCHW itself): exact path
        chosen = ("fp32", False, np.zeros(1))
    prec, cl, dev = chosen
    log.info("precision auto on %s: %s channels_last=%s (max |dlogit| %.4g)", device, prec, cl, dev.max())
    return PrecisionChoice(prec, cl, mode=AUTO, tolerance=tolerance, max_abs_logit_dev=round(float(dev.max()), 6),
                           mean_abs_logit_dev=round(float(dev.mean()), 6), candidates=tried, device=str(device),
                           capability=device_tag(device), calibration=CALIBRATION, relative_tolerance=relative)
