"""Fine-tuning configuration: a frozen dataclass loaded from YAML, with ``--set key=value`` overrides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dfbench.training import PRECISIONS as CORE_PRECISIONS
from dfbench.training import config as core
from dfbench.training.config import ConfigError as TrainConfigError
from dfbench.training.config import check_choice

PRECISIONS = (*CORE_PRECISIONS, "amp")
"""The project's vocabulary; ``amp`` is this family's old name for ``fp16`` (deprecated)."""
SELECT_METRICS = ("val_auc", "val_loss")


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
    model_overrides: dict[str, Any] = field(default_factory=dict)
    """Keys of the variant's model config to replace (e.g. ``dropout: 0``); recorded in the weights."""
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
    accum_steps: int = 1
    """Split each batch into this many micro-batches (same gradient, less memory)."""
    precision: str = "auto"
    """``auto`` (bf16 autocast on CPU; bf16 or fp16 AMP on CUDA), ``fp32``, ``bf16``, ``fp16`` (CUDA
    AMP) or ``fp64``; ``amp`` is accepted as the old name of ``fp16``."""
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
        check_choice("precision", self.precision, PRECISIONS, TrainConfigError)
        check_choice("select_metric", self.select_metric, SELECT_METRICS, TrainConfigError)
        if self.epochs < 1 or self.batch_size < 1:
            raise TrainConfigError("epochs and batch_size must be >= 1")
        if self.augment.crop < 0 or not 0.0 <= self.augment.hflip <= 1.0:
            raise TrainConfigError(
                f"augment.crop must be >= 0 and augment.hflip in [0, 1], got {self.augment}"
            )
        from dfbench.training.data import TrainingDataError, check_selection_split

        try:
            check_selection_split(None if self.data.val_fraction > 0 else self.data.val_split,
                                  train_split=self.data.train_split, where="data.val_split")
        except TrainingDataError as e:
            raise TrainConfigError(str(e)) from None

    def replace(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return core.to_dict(self)


def config_from_dict(data: Mapping[str, Any]) -> TrainConfig:
    return core.merge(TrainConfig(), dict(data or {}))


def load_config(path: str | Path | None, overrides: Iterable[str] = ()) -> TrainConfig:
    """Read a YAML config (or start from defaults when ``path`` is None) and apply overrides."""
    return core.load_config(TrainConfig, path, list(overrides))


__all__ = ["PRECISIONS", "SELECT_METRICS", "TrainConfig", "TrainConfigError", "config_from_dict", "load_config"]
