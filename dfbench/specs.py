"""Frozen dataclasses that describe what plugins contribute.

A spec is pure data plus an import path: building it must stay cheap (no torch import), so that
`dfbench list` is instant even with many plugins installed. The heavy object (a model, an index of
videos, a corruption function) is produced only when a run asks for it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

Unit = Literal["frame", "clip"]
Colour = Literal["rgb", "gray"]
Aggregation = Literal["mean_logit", "mean_prob", "max"]
AGGREGATIONS: tuple[str, ...] = ("mean_logit", "mean_prob", "max")


def load_object(ref: str | Callable) -> Any:
    """Resolve ``"package.module:attr"`` (or return a callable unchanged).

    Specs name their factories as strings so that registering a plugin never imports torch.
    """
    if not isinstance(ref, str):
        return ref
    module_name, _, attr = ref.partition(":")
    if not attr:
        raise ValueError(f"expected 'module:attribute', got {ref!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class InputSpec:
    """What a detector consumes; the harness prepares exactly this and nothing else.

    The runner hands the detector canonical uint8 crops (``[B, C, H, W]`` for frames,
    ``[B, T, C, H, W]`` for clips, C = 3 for RGB and 1 for gray); normalisation happens inside
    the detector (``mean``/``std`` are recorded here so that the protocol and the model card say
    what the model expects).
    """

    unit: Unit = "frame"
    size: int = 256
    colour: Colour = "rgb"
    clip_length: int = 1
    cropper: str = "dlib_align"
    crop_settings: Mapping[str, Any] = field(default_factory=dict)
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    frames_per_video: int = 32
    """Frame unit: N evenly spaced frames. Clip unit: at most this many leading frames (0 = all)."""
    aggregation: Aggregation = "mean_logit"
    flip_test: bool = False
    missing_face: Literal["skip", "score_half", "skip_half", "fail"] = "skip"
    """The official protocol's rule for a frame (or clip) without a face, the default of
    ``--missing-face`` (see :mod:`dfbench.media.policy`): ``score_half`` where the official
    inference gives faceless frames 0.5 (SBI, LAA-Net), ``skip`` where it drops them."""

    @property
    def channels(self) -> int:
        return 1 if self.colour == "gray" else 3

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["crop_settings"] = dict(self.crop_settings)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    def describe(self) -> str:
        """One line a user can check a protocol against (``dfbench list detectors``)."""
        crop = self.cropper + (f"({', '.join(f'{k}={v}' for k, v in self.crop_settings.items())})"
                               if self.crop_settings else "")
        unit = "frames" if self.unit == "frame" else f"clips of {self.clip_length}"
        fmt = lambda vals: "/".join(f"{v:g}" for v in vals[: self.channels])  # noqa: E731
        return (f"{self.size}px {self.colour} {unit} via {crop}; (x/255 - {fmt(self.mean)}) / {fmt(self.std)}; "
                f"{self.frames_per_video or 'all'} frames/video; video score {self.aggregation}"
                + ("; flip test" if self.flip_test else ""))


@dataclass(frozen=True)
class WeightsSpec:
    """A set of trained weights for one variant.

    ``source`` is a local directory, a path relative to the plugin package
    (``package://dfbench_laanet/weights/demo``) or a Hub reference ``hf://org/name@revision``.
    ``sha256`` pins ``model.safetensors``; a mismatch refuses to load.
    """

    tag: str
    variant: str
    source: str
    sha256: str | None = None
    trained_on: str = ""
    selection: str = ""
    license: str = ""
    description: str = ""
    reported: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VariantSpec:
    """One architecture variant of a detector family (``laanet_efnb4``, ``laanet_test``)."""

    name: str
    input: InputSpec
    config: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def with_config(self, overrides: Mapping[str, Any] | None) -> VariantSpec:
        """This variant with ``overrides`` replacing keys of its model config (a training config's
        ``model_overrides``); itself when there are none."""
        return replace(self, config={**self.config, **overrides}) if overrides else self


@dataclass(frozen=True)
class DetectorSpec:
    """A detector family as a plugin registers it.

    ``factory`` (``"module:callable"``) is called as ``factory(variant: VariantSpec)`` and returns
    a :class:`dfbench.detector.Detector` with random (untrained) weights; the harness loads weights
    afterwards. Every family has a tiny ``test`` variant for CPU contract tests.
    """

    name: str
    factory: str | Callable
    variants: tuple[VariantSpec, ...]
    default_variant: str
    weights: tuple[WeightsSpec, ...] = ()
    default_weights: str | None = None
    paper: str = ""
    url: str = ""
    license: str = ""
    description: str = ""
    converter: str | Callable | None = None
    """``"module:from_official"``: official state dict -> network, for ``dfbench convert``.
    A converter that accepts a ``variant`` keyword receives the target :class:`VariantSpec`."""
    aliases: tuple[str, ...] = ()
    weights_license: str = ""
    """Licence of the official (authors') weights, shown by ``dfbench list detectors``; ``license``
    may cover only the code."""

    def __post_init__(self) -> None:
        names = [v.name for v in self.variants]
        if self.default_variant not in names:
            raise ValueError(f"detector {self.name!r}: default variant {self.default_variant!r} not in {names}")
        if "test" not in names:
            raise ValueError(f"detector {self.name!r} must declare a tiny 'test' variant for contract tests")
        seen = set()
        for w in self.weights:
            if w.variant not in names:
                raise ValueError(f"detector {self.name!r}: weights {w.tag!r} name unknown variant {w.variant!r}")
            if (w.tag, w.variant) in seen:
                raise ValueError(f"detector {self.name!r}: weights tag {w.tag!r} declared twice for variant {w.variant!r}")
            seen.add((w.tag, w.variant))

    def variant(self, name: str | None = None) -> VariantSpec:
        name = name or self.default_variant
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    def weights_for(self, tag: str, variant: str | None = None) -> WeightsSpec | None:
        """The weights with ``tag`` for ``variant`` (any variant when None; the default variant first)."""
        matches = [w for w in self.weights if w.tag == tag and (variant is None or w.variant == variant)]
        matches.sort(key=lambda w: w.variant != self.default_variant)
        return matches[0] if matches else None

    def build(self, variant: str | None = None, overrides: Mapping[str, Any] | None = None):
        """Build the detector for ``variant`` (its model config with ``overrides`` applied) with
        untrained weights (no download)."""
        v = self.variant(variant).with_config(overrides)
        det = load_object(self.factory)(v)
        det.spec, det.variant = self, v
        return det


@dataclass(frozen=True)
class VideoItem:
    """One evaluation unit of a dataset: a video file, a folder of frames or a single image.

    ``key`` is globally unique (``dataset/label/method/video``): never a folder basename, so that
    FF++ pair names shared across methods are never merged.
    """

    key: str
    label: int
    method: str
    path: str
    kind: Literal["video", "frames", "image"] = "video"
    precropped: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "method": self.method, "path": self.path}


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset as a plugin registers it.

    ``index`` (``"module:callable"``) is called as ``index(root: Path | None, split: str,
    options: Mapping) -> list[VideoItem]``; it enumerates from the official lists, never crashes on
    a missing or broken file (the item is still listed and fails at decode time, where it is
    recorded), and labels are 1 = fake. ``expected_counts`` maps split -> {"real": n, "fake": n}
    (per selected method for FF++-style datasets, see ``counts_per_method``).
    """

    name: str
    index: str | Callable
    splits: tuple[str, ...] = ("test",)
    version: str = "1"
    aliases: tuple[str, ...] = ()
    expected_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    counts_per_method: bool = False
    needs_root: bool = True
    precropped: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    url: str = ""
    license: str = ""

    @property
    def env_var(self) -> str:
        return "DFBENCH_" + self.name.upper().replace("-", "_") + "_ROOT"


@dataclass(frozen=True)
class CorruptionSpec:
    """A corruption as a plugin registers it.

    ``apply`` (``"module:callable"``) is called as ``apply(frames, level, seed)`` with uint8
    ``[T, H, W, 3]`` RGB frames and returns an array of the same shape and dtype, never
    modifying its input. ``scope="video"`` marks corruptions that need the whole clip at once
    (video compression); they still receive and return frames.
    """

    name: str
    apply: str | Callable
    levels: tuple[int, ...] = (1, 2, 3, 4, 5)
    suites: tuple[str, ...] = ()
    scope: Literal["frame", "video"] = "frame"
    official_name: str = ""
    parameters: Mapping[int, Any] = field(default_factory=dict)
    description: str = ""
    aliases: tuple[str, ...] = ()
    """Other names (``official_name`` is an alias too); checked for collisions like names."""


@dataclass(frozen=True)
class CropperSpec:
    """A face cropper as a plugin registers it.

    ``factory(**settings)`` returns an object with ``recipe() -> dict`` (everything that changes
    its output, hashed into the cache key and the protocol) and
    ``__call__(frames: uint8 [T, H, W, 3], size: int) -> FaceCrops``.
    """

    name: str
    factory: str | Callable
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    temporal: bool = False
    """True when the cropper needs consecutive frames (temporal smoothing), e.g. the mouth crop."""
    aliases: tuple[str, ...] = ()
    prepare_input: InputSpec | None = None
    """The input ``dfbench prepare --cropper NAME`` fills the cache for when no detector is named
    (size, unit, sampling). Generic, not every detector's: ``prepare --detector D`` reads D's own."""
