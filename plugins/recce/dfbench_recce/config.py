"""Training configuration: nested dataclasses read from YAML, with ``--set key=value`` overrides.

Example (``dfbench_recce/configs/demo_lite.yaml`` is a complete one)::

    variant: default            # default | gf | lite | lite_gf | test | test_gf
    out_dir: runs/recce_ffpp
    epochs: 20
    batch_size: 16
    data:
      train: /data/ffpp_crops   # folder with {train,val}/{real,fake}/*.png, or "module:factory"
      val_split: val            # early stopping reads this split; "test" is refused
    optim: {name: adam, lr: 2.0e-4, weight_decay: 1.0e-5}
    scheduler: {name: step, step_size: 10, gamma: 0.5}

Overrides use dotted keys and YAML values: ``--set optim.lr=1e-4 --set precision=bf16``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dfbench.training import config as core
from dfbench.training.config import ConfigError, check_choice
from dfbench.training.crops import AugmentConfig, CropDataConfig  # the core's crop-data settings


@dataclass
class DataConfig(CropDataConfig):
    """The core's crop-classifier data section (no ``dfbench:`` default: RECCE trains on the
    user's crops)."""


@dataclass
class OptimConfig:
    name: str = "adam"          # adam | adamw
    lr: float = 2e-4
    weight_decay: float = 1e-5
    fused: bool = False         # fused Adam/AdamW kernels (CUDA, recent CPU builds)


@dataclass
class SchedulerConfig:
    name: str = "step"          # step | none
    step_size: int = 10         # epochs
    gamma: float = 0.5


@dataclass
class EarlyStoppingConfig:
    metric: str = "auc"         # auc (higher is better) | loss (lower is better), on the val split
    patience: int = 5
    min_delta: float = 0.0


@dataclass
class TrainConfig:
    variant: str = "default"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    """Keys of the variant's model config to replace (e.g. ``drop_rate: 0``); recorded in the weights."""
    out_dir: str = "runs/recce"
    init: str | None = None
    """Start from: a dfbench weights dir, an official RECCE .pth, or an Xception (timm
    legacy_xception / Cadene) state dict for the encoder only. None = random init."""
    epochs: int = 20
    batch_size: int = 16
    eval_batch_size: int = 32
    accum_steps: int = 1
    """Split each batch into this many micro-batches (same gradient for per-sample-mean losses)."""
    max_steps_per_epoch: int = 0
    lambda_recons: float = 0.1
    lambda_metric: float = 0.1
    recons_kind: str = "l1"
    precision: str = "fp32"     # auto | fp32 | bf16 (autocast) | fp16 (CUDA AMP + GradScaler) | fp64
    tf32: bool = True           # CUDA only
    channels_last: bool = False
    compile: bool = False
    seed: int = 0
    device: str = "auto"        # auto | cpu | cuda
    threads: int = 0            # torch CPU threads (0 = leave torch's default)
    log_every: int = 20
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)

    def validate(self) -> TrainConfig:
        from dfbench.training import PRECISIONS

        check_choice("precision", self.precision, PRECISIONS)
        check_choice("optim.name", self.optim.name, ("adam", "adamw"))
        check_choice("scheduler.name", self.scheduler.name, ("step", "none"))
        check_choice("early_stopping.metric", self.early_stopping.metric, ("auc", "loss"))
        from .spec import VARIANTS  # pure data, no torch

        names = [v.name for v in VARIANTS]
        if self.variant not in names:
            raise ConfigError(f"variant must be one of {', '.join(names)}, got {self.variant!r}")
        self.data.check()
        return self

    def to_dict(self) -> dict[str, Any]:
        return core.to_dict(self)


def load_config(path: str | Path | None = None, overrides: tuple[str, ...] | list[str] = ()) -> TrainConfig:
    """Read a YAML config (or start from defaults) and apply ``key=value`` overrides."""
    return core.load_config(TrainConfig, path, list(overrides))


__all__ = ["AugmentConfig", "ConfigError", "TrainConfig", "load_config"]
