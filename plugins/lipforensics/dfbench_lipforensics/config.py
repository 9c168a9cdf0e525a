"""Fine-tuning configuration: a frozen dataclass loaded from YAML, with ``--set key=value`` overrides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from dfbench.errors import DfbenchError

PRECISIONS = ("auto", "fp32", "bf16", "amp")
SELECT_METRICS = ("val_auc", "val_loss")


class TrainConfigError(DfbenchError):
    """A training config has an unknown key or an invalid value."""


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 3e-4
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0
    scheduler: str = "cosine"
    """``cosine`` (to 0 at the last step, after warm-up) or ``constant``."""
    grad_clip: float = 5.0
    """Max global grad norm (0 = off)."""


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "demo"
    data_root: str | None = None
    train_split: str = "train"
    val_split: str = "val"
    """Checkpoint selection reads this split only; the test split is never opened by training."""
    val_fraction: float = 0.0
    """> 0: ignore ``val_split`` and hold out this fraction of the *training* videos (stratified,
    by video) for selection — for datasets with no validation split, e.g. the demo (train/test)."""
    factory: str = "dfbench_lipforensics.data:prepared_split"
    """``module:callable(data_cfg, split, input_spec) -> ClipDataset`` (see :mod:`.data`)."""
    max_frames: int = 0
    """Leading frames per video (0 = all; the FF++ protocol uses 110)."""
    limit: int = 0
    """Use at most this many videos per split (0 = all), e.g. for smoke runs."""
    options: dict[str, Any] = field(default_factory=dict)
    """Passed to the dataset index (e.g. ``{"methods": ["Deepfakes"]}``)."""


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation (validation always sees the evaluation protocol's clips).

    Any non-zero setting disables the trunk-feature cache: every sample differs every epoch.
    """

    crop: int = 0
    """Prepare crops this many pixels larger than the model input (the mouth cropper's full
    96-px patch for an 88-px model with ``crop: 8``) and cut a random window of the input size for
    training, the centre window — exactly the evaluation crop — for validation."""
    hflip: float = 0.0
    """Probability of mirroring a training clip left-right (mouths are close to symmetric)."""
    time_offset: bool = False
    """Start each training clip at a random frame of its video's contiguous run of frames instead
    of the fixed non-overlapping clip boundaries (0, 25, ...): a 50-frame video yields 26 distinct
    25-frame windows instead of 2."""

    @property
    def enabled(self) -> bool:
        return bool(self.crop or self.hflip or self.time_offset)


@dataclass(frozen=True)
class TrainConfig:
    variant: str = "r18_ta"
    init: str | None = None
    """Starting weights: a dfbench weights dir (``package://...`` allowed) or an official ``.pth``."""
    out_dir: str = "runs/lipforensics"
    freeze: bool = True
    """Freeze the 3D front end and ResNet trunk (BN in eval) and train the temporal back end only,
    as the paper does on top of LRW lip-reading weights (``init``). ``false`` trains the whole
    network — the explicit choice when no lip-reading-pretrained trunk is available (e.g. the demo
    weights, trained from scratch); it is recorded in the weights' ``training.trained``."""
    cache_features: bool = True
    """With a frozen trunk and no augmentation, compute trunk features once per clip (exact, and
    several times faster); ignored when ``freeze`` is false."""
    epochs: int = 10
    batch_size: int = 16
    precision: str = "auto"
    """``auto`` (bf16 autocast on CPU, fp16 AMP on CUDA), ``bf16``, ``amp`` or ``fp32``."""
    seed: int = 0
    resume: bool = True
    checkpoint_every_steps: int = 0
    """Also checkpoint mid-epoch every N optimiser steps (0 = at epoch ends only)."""
    select_metric: str = "val_auc"
    threads: int = 0
    """torch intra-op threads (0 = leave torch's default)."""
    channels_last: bool = False
    """Lay the 3D front end out as NDHWC and the trunk as NHWC in training (oneDNN's fastest CPU
    kernels; about 2x faster fp32 training of ``lite`` on this project's CPU)."""
    log_every: int = 20
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise TrainConfigError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.select_metric not in SELECT_METRICS:
            raise TrainConfigError(
                f"select_metric must be one of {SELECT_METRICS}, got {self.select_metric!r}"
            )
        if self.epochs < 1 or self.batch_size < 1:
            raise TrainConfigError("epochs and batch_size must be >= 1")
        if self.augment.crop < 0 or not 0.0 <= self.augment.hflip <= 1.0:
            raise TrainConfigError(
                f"augment.crop must be >= 0 and augment.hflip in [0, 1], got {self.augment}"
            )

    def replace(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["optim"]["betas"] = list(self.optim.betas)
        return d


def _build(cls, data: Mapping[str, Any], where: str):
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise TrainConfigError(
            f"unknown key(s) {unknown} in {where or 'config'}; known keys: {sorted(known)}"
        )
    kwargs = {}
    for name, value in data.items():
        default = getattr(cls(), name) if name in ("optim", "data", "augment") else None
        if is_dataclass(default):
            if not isinstance(value, Mapping):
                raise TrainConfigError(f"{where}{name} must be a mapping, got {value!r}")
            kwargs[name] = _build(type(default), value, f"{where}{name}.")
        elif name == "betas":
            kwargs[name] = tuple(float(b) for b in value)
        else:
            kwargs[name] = _coerce(value, getattr(cls(), name), f"{where}{name}")
    return cls(**kwargs)


def _coerce(value: Any, default: Any, key: str) -> Any:
    """Match the field's type. YAML 1.1 reads ``1e-4`` (no dot) as a string, a classic trap."""
    try:
        if isinstance(default, bool) or default is None or isinstance(default, (dict, str)):
            return value
        if (
            isinstance(default, float)
            and isinstance(value, (int, float, str))
            and not isinstance(value, bool)
        ):
            return float(value)
        if (
            isinstance(default, int)
            and isinstance(value, (int, str))
            and not isinstance(value, bool)
        ):
            return int(value)
    except ValueError:
        raise TrainConfigError(f"{key} must be a {type(default).__name__}, got {value!r}") from None
    return value


def config_from_dict(data: Mapping[str, Any]) -> TrainConfig:
    return _build(TrainConfig, dict(data or {}), "")


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """``["optim.lr=1e-4", "epochs=3"]`` -> nested updates; values are parsed as YAML scalars."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise TrainConfigError(f"--set expects KEY=VALUE, got {item!r}")
        node = data
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise TrainConfigError(f"--set {key}: {p!r} is not a section")
        node[parts[-1]] = yaml.safe_load(raw)
    return data


def load_config(path: str | Path | None, overrides: Iterable[str] = ()) -> TrainConfig:
    """Read a YAML config (or start from defaults when ``path`` is None) and apply overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text())
        if loaded is not None and not isinstance(loaded, dict):
            raise TrainConfigError(f"{path}: expected a mapping at the top level")
        data = loaded or {}
    return config_from_dict(apply_overrides(data, overrides))
