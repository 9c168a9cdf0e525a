"""Bring your own model, no plugin: ``onnx:PATH``, ``torchscript:PATH`` and ``py:module:factory``.

A bring-your-own (BYO) detector is any network that maps a normalised float batch to fake scores;
dfbench wraps it so it runs through exactly the same protocol as a plugin's detector (sampling,
cropper, missing-face policy, aggregation, metrics). What the network expects — its *input
contract* — comes from, in increasing priority:

1. defaults (and, for ONNX, the static input shape declared in the file);
2. a sidecar YAML next to the model (``model.onnx.yaml`` or ``model.yaml``) or ``--contract FILE``;
3. command-line flags (``--input-size``, ``--mean``, ``--std``, ``--cropper``, ``--unit``,
   ``--clip-length``, ``--logit``/``--prob``; see :func:`contract_overrides`).

Keys: ``input_size``, ``mean``, ``std``, ``colour`` (rgb/gray), ``cropper``, ``crop_settings``,
``unit`` (frame/clip), ``clip_length``, ``frames_per_video``, ``aggregation``, ``flip_test``,
``output`` (``logit``: raw scores; ``prob``: probabilities in [0, 1]). The network may return
``[B]``, ``[B, 1]`` or ``[B, 2]`` (two classes, index 1 = fake: the fake logit is
``out[1] - out[0]``, or ``out[1]`` is the probability). The model is dry-run on the contract's
input shape when it is built, so a disagreement is one clear error, not a crash mid-run.
The file's sha256 and the contract's output kind go into every run's protocol.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..detector import Detector
from ..errors import DfbenchError
from ..media.policy import MISSING_FACE_POLICIES
from ..specs import AGGREGATIONS, DetectorSpec, InputSpec, VariantSpec, load_object

PREFIXES = ("onnx:", "torchscript:", "py:")
OUTPUTS = ("logit", "prob")
_PROB_EPS = 1e-7


def is_byo_id(name: Any) -> bool:
    return isinstance(name, str) and name.startswith(PREFIXES)


@dataclass(frozen=True)
class Contract:
    """The input/output contract of a BYO model (see the module docstring)."""

    input_size: int | None = None
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    colour: str = "rgb"
    cropper: str = "dlib_align"
    crop_settings: Mapping[str, Any] = field(default_factory=dict)
    unit: str = "frame"
    clip_length: int = 1
    frames_per_video: int = 32
    aggregation: str = "mean_logit"
    flip_test: bool = False
    # The protocol's rule for frames/videos without a face travels with the model, like aggregation.
    missing_face: str = "skip"
    output: str = "logit"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str) -> Contract:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DfbenchError(f"{where}: unknown contract key(s) {unknown}; known: {sorted(known)}")
        values = dict(data)
        for k in ("mean", "std"):
            if k in values:
                values[k] = _floats(values[k], f"{where}: {k}")
        return cls(**values)

    def merged(self, overrides: Mapping[str, Any]) -> Contract:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def check(self, where: str) -> None:
        if self.input_size is None or int(self.input_size) <= 0:
            raise DfbenchError(f"{where}: the input size is unknown; pass --input-size N (or input_size in a sidecar YAML)")
        if self.output not in OUTPUTS:
            raise DfbenchError(f"{where}: output must be one of {OUTPUTS}, got {self.output!r} (use --logit or --prob)")
        if self.unit not in ("frame", "clip"):
            raise DfbenchError(f"{where}: unit must be 'frame' or 'clip', got {self.unit!r} (--unit)")
        if self.unit == "clip" and self.clip_length < 2:
            raise DfbenchError(f"{where}: a clip model needs clip_length >= 2 (--clip-length)")
        if self.colour not in ("rgb", "gray"):
            raise DfbenchError(f"{where}: colour must be 'rgb' or 'gray', got {self.colour!r}")
        channels = 1 if self.colour == "gray" else 3
        if len(self.mean) < channels or len(self.std) < channels:
            raise DfbenchError(f"{where}: --mean/--std need {channels} values, got {list(self.mean)} / {list(self.std)}")
        if self.aggregation not in AGGREGATIONS:
            raise DfbenchError(f"{where}: aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")
        if self.missing_face not in MISSING_FACE_POLICIES:
            raise DfbenchError(f"{where}: missing_face must be one of {MISSING_FACE_POLICIES}, "
                               f"got {self.missing_face!r}")

    def input_spec(self) -> InputSpec:
        return InputSpec(unit=self.unit, size=int(self.input_size), colour=self.colour,
                         clip_length=int(self.clip_length) if self.unit == "clip" else 1, cropper=self.cropper,
                         crop_settings=dict(self.crop_settings), mean=tuple(self.mean), std=tuple(self.std),
                         frames_per_video=int(self.frames_per_video), aggregation=self.aggregation,
                         flip_test=bool(self.flip_test), missing_face=self.missing_face)

    @classmethod
    def from_input_spec(cls, spec: InputSpec, output: str = "logit") -> Contract:
        return cls(input_size=spec.size, mean=tuple(spec.mean), std=tuple(spec.std), colour=spec.colour,
                   cropper=spec.cropper, crop_settings=dict(spec.crop_settings), unit=spec.unit,
                   clip_length=spec.clip_length, frames_per_video=spec.frames_per_video,
                   aggregation=spec.aggregation, flip_test=spec.flip_test, missing_face=spec.missing_face,
                   output=output)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["mean"], d["std"], d["crop_settings"] = list(self.mean), list(self.std), dict(self.crop_settings)
        return d


def _floats(value: Any, where: str) -> tuple[float, ...]:
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value.strip()) if v]
    try:
        return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise DfbenchError(f"{where}: expected numbers like 0.485,0.456,0.406, got {value!r}") from None


# -- command-line overrides ------------------------------------------------------------------------
_OVERRIDES: dict[str, Any] = {}


@contextlib.contextmanager
def contract_overrides(contract_file: str | None = None, **values: Any) -> Iterator[None]:
    """Contract values from the command line for BYO ids resolved inside the block.

    ``contract_file`` replaces the sidecar lookup; ``None`` values are ignored.
    """
    global _OVERRIDES
    saved = _OVERRIDES
    new = {k: v for k, v in values.items() if v is not None}
    for k in ("mean", "std"):
        if k in new:
            new[k] = _floats(new[k], f"--{k}")
    if contract_file:
        new["__file__"] = contract_file
    _OVERRIDES = new
    try:
        yield
    finally:
        _OVERRIDES = saved


def _sidecar(path: Path | None, explicit: str | None) -> tuple[dict[str, Any], str | None]:
    import yaml

    candidates = [Path(explicit)] if explicit else []
    if path is not None and not explicit:
        candidates = [path.with_name(path.name + ".yaml"), path.with_suffix(".yaml")]
    for c in candidates:
        if c.is_file():
            try:
                data = yaml.safe_load(c.read_text()) or {}
            except yaml.YAMLError as e:
                raise DfbenchError(f"{c}: not valid YAML ({e})") from None
            if not isinstance(data, dict):
                raise DfbenchError(f"{c}: a contract file must be a mapping of keys to values")
            return data, str(c)
        if explicit:
            raise DfbenchError(f"--contract {explicit}: file not found")
    return {}, None


# -- networks --------------------------------------------------------------------------------------
class OnnxNet(nn.Module):
    """An ONNX model run by ONNX Runtime: CPU provider, or CUDA when the input lives on a GPU."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise DfbenchError("onnx: detectors need ONNX Runtime: pip install onnxruntime (or onnxruntime-gpu)") from None
        self.path = path
        self._sessions: dict[str, Any] = {}
        sess = self.session("cpu")
        inputs = sess.get_inputs()
        if len(inputs) != 1:
            raise DfbenchError(f"{path}: dfbench feeds one input tensor; the model declares {len(inputs)} "
                               f"({', '.join(i.name for i in inputs)})")
        self.input_name, self.input_shape = inputs[0].name, list(inputs[0].shape)
        self.input_dtype = {"tensor(float)": "float32", "tensor(double)": "float64",
                            "tensor(float16)": "float16"}.get(inputs[0].type)
        if self.input_dtype is None:
            raise DfbenchError(f"{path}: input {self.input_name!r} has type {inputs[0].type}; dfbench feeds float tensors")

    def session(self, device_type: str) -> Any:
        import onnxruntime as ort

        if device_type not in self._sessions:
            providers = ["CPUExecutionProvider"]
            if device_type == "cuda":
                if "CUDAExecutionProvider" not in ort.get_available_providers():
                    raise DfbenchError("ONNX Runtime has no CUDA provider here: pip install onnxruntime-gpu, or use --device cpu")
                providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            self._sessions[device_type] = ort.InferenceSession(str(self.path), sess_options=opts, providers=providers)
        return self._sessions[device_type]

    def static_size(self) -> int | None:
        """The square input size when the file declares one (``[N, C, H, W]`` with fixed H = W)."""
        h, w = (self.input_shape[-2:] + [None, None])[:2] if len(self.input_shape) >= 2 else (None, None)
        return h if isinstance(h, int) and h == w else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        arr = x.detach().to("cpu", getattr(torch, self.input_dtype)).contiguous().numpy()
        out = self.session(x.device.type).run(None, {self.input_name: arr})[0]
        return torch.from_numpy(out).to(x.device)

    def __getstate__(self) -> dict[str, Any]:  # sessions do not pickle; rebuilt lazily
        state = self.__dict__.copy()
        state["_sessions"] = {}
        return state


class ByoDetector(Detector):
    """A BYO network behind the dfbench detector contract (uint8 in, one fake logit out)."""

    def __init__(self, net: nn.Module, input_spec: InputSpec, output: str, info: dict[str, Any]) -> None:
        super().__init__(net, input_spec)
        self.output = output
        self.info = info
        # An ONNX file runs in ONNX Runtime inside forward: tracing it for another export would
        # freeze one batch's outputs, so it stays on its own runtime (dfbench.backends).
        self.exportable = not isinstance(net, OnnxNet)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        if not isinstance(out, torch.Tensor):
            raise DfbenchError(f"{self.info['source']}: the model returned {type(out).__name__}, expected a tensor")
        b = x.shape[0]
        if out.shape in ((b,), (b, 1)):
            score = out.reshape(b)
            two_class = None
        elif out.shape == (b, 2):
            score, two_class = out[:, 1], out
        else:
            raise DfbenchError(f"{self.info['source']}: output shape {list(out.shape)} for a batch of {b}; "
                               f"expected [{b}], [{b}, 1] or [{b}, 2] (two classes, index 1 = fake)")
        if self.output == "prob":
            p = score.double().clamp(_PROB_EPS, 1 - _PROB_EPS)
            return torch.log(p) - torch.log1p(-p)
        if two_class is not None:
            return two_class[:, 1] - two_class[:, 0]
        return score

    def inference_options(self) -> dict[str, Any]:
        return {"byo": dict(self.info)}


def _file_sha256(path: Path) -> str:
    from ..weights import sha256_file

    return sha256_file(path)


def _load_net(kind: str, target: str) -> tuple[nn.Module, Path | None]:
    if kind == "py":
        if ":" not in target:
            raise DfbenchError(f"py:{target}: expected py:package.module:factory")
        try:
            factory = load_object(target)
        except (ImportError, AttributeError) as e:
            raise DfbenchError(f"py:{target}: cannot import the factory ({e})") from None
        net = factory()
        if not isinstance(net, nn.Module):
            raise DfbenchError(f"py:{target}: the factory returned {type(net).__name__}, expected a torch.nn.Module")
        return net, None
    path = Path(target).expanduser()
    if not path.is_file():
        raise DfbenchError(f"{kind}:{target}: file not found")
    if kind == "onnx":
        return OnnxNet(path), path
    try:
        net = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError) as e:
        raise DfbenchError(f"torchscript:{target}: not a TorchScript file ({str(e).splitlines()[0]})") from None
    return net, path


def _validate(det: ByoDetector, source: str, contract: Contract) -> None:
    net = det.net
    if isinstance(net, OnnxNet):
        shape = net.input_shape
        rank = 4 if contract.unit == "frame" else 5
        if len(shape) != rank:
            raise DfbenchError(f"{source}: the model takes rank-{len(shape)} input {shape}, but --unit {contract.unit} "
                               f"feeds rank {rank} ({'[B, C, H, W]' if rank == 4 else '[B, T, C, H, W]'})")
        want = [det.input_spec.channels, det.input_spec.size, det.input_spec.size]
        for got, exp, flag in zip(shape[-3:], want, ("channels (--colour)", "--input-size", "--input-size"), strict=True):
            if isinstance(got, int) and got != exp:
                raise DfbenchError(f"{source}: the model expects input {shape}, the contract gives "
                                   f"[B, {', '.join(map(str, want))}]: fix {flag}")
    x = det.example_input(batch=2)
    try:
        with torch.inference_mode():
            y = det.eval()(x)
    except DfbenchError:
        raise
    except Exception as e:  # the user's model: report what it was fed and which flags set that
        raise DfbenchError(f"{source}: the model rejected input of shape {list(x.shape)} (from --input-size "
                           f"{contract.input_size}, --unit {contract.unit}): {str(e).splitlines()[0][:200]}") from None
    if not torch.isfinite(y).all():
        raise DfbenchError(f"{source}: the model returned non-finite scores on a test batch")


def build_byo(name: str, variant: VariantSpec | None = None) -> ByoDetector:
    """Build the BYO detector ``name`` (``onnx:PATH`` etc.) with the current contract overrides."""
    kind, _, target = name.partition(":")
    net, path = _load_net(kind, target)
    overrides = dict(_OVERRIDES)
    data, sidecar = _sidecar(path, overrides.pop("__file__", None))
    contract = Contract.from_mapping(data, sidecar or name)
    if contract.input_size is None and isinstance(net, OnnxNet):
        contract = replace(contract, input_size=net.static_size())
    contract = contract.merged(overrides)
    contract.check(name)
    info = {"kind": kind, "source": name, "sha256": _file_sha256(path) if path else None,
            "contract": sidecar, "output": contract.output}
    det = ByoDetector(net, contract.input_spec(), contract.output, info)
    _validate(det, name, contract)
    det.trained = True  # a BYO model is trained by its owner; nothing to load
    det.weights_info = {"tag": None, "source": name, "sha256": info["sha256"], "selection": None, "trained_on": None}
    return det


def byo_spec(name: str) -> DetectorSpec:
    """A throw-away spec so a BYO model resolves like a registered detector (id ``onnx_<stem>``)."""
    kind, _, target = name.partition(":")
    stem = target.rpartition(":")[2] if kind == "py" else Path(target).stem
    ident = f"{kind}_" + (re.sub(r"[^A-Za-z0-9]+", "_", stem).strip("_") or "model")
    det = build_byo(name)
    variants = (VariantSpec("default", det.input_spec, {"source": name}), VariantSpec("test", det.input_spec, {"source": name}))

    def factory(v: VariantSpec, _built=[det]) -> ByoDetector:  # noqa: B006 - the first build is reused once
        return _built.pop() if _built else build_byo(name, v)

    return DetectorSpec(name=ident, factory=factory, variants=variants, default_variant="default",
                        description=f"bring-your-own model {name}", license="(the model owner's)")


def resolve_byo(name: str):
    """The registry's hook for ``onnx:``/``torchscript:``/``py:`` ids."""
    from ..registry import ResolvedDetector

    spec = byo_spec(name)
    return ResolvedDetector(spec, spec.variant("default"), None)
