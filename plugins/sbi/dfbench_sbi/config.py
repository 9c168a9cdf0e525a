"""Training configuration of SBI: dataclasses, YAML on disk, dotted command-line overrides.

Defaults follow the published recipe (Shiohara & Yamasaki, CVPR 2022; our clean-room notes on
mapooon/SelfBlendedImages): EfficientNet-B4 at 380 px, 2-way cross-entropy on real vs
self-blended faces, SAM around SGD (lr 1e-3, momentum 0.9, rho 0.05), 100 epochs with a linear
decay to 0 from epoch 75, 16 real/fake pairs per step (batch 32), 8 frames per video re-sampled
every epoch. ``configs/demo.yaml`` is the small CPU recipe behind the shipped demo weights.

The data section deliberately has the same fields as LAA-Net's (the two families read real faces
the same way and share LAA-Net's SBI generator: see :mod:`dfbench_sbi.train`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dfbench.training import config as core
from dfbench.training.config import ConfigError


@dataclass
class DataConfig:
    source: str = "dataset:demo"
    """Real training faces: ``dataset:NAME`` (real videos of a registered dataset, cropped with the
    variant's cropper), ``npz:DIR`` (``crops`` + ``landmarks`` per video) or ``faces:N`` (tests)."""
    train_split: str = "train"
    val_split: str = "val"
    """Selection split of the source; ``holdout:F`` holds out a fraction F of the training videos."""
    extract_frames: int = 32
    """Frames decoded and cropped per real video (``dataset:`` source)."""
    frames_per_video: int = 8
    val_frames_per_video: int = 8
    augment: bool = True
    """Final joint augmentation of the pairs (flip, crop/scale, colour jitter, JPEG)."""
    crop_size: int = 380
    """Size of the real face crops the generator starts from (the variant's evaluation crop,
    resized to this size)."""
    margin_min: int = 0
    margin_max: int = 25
    """Pixels cut from each side of a crop before it is fitted to the network, drawn per training
    pair in [min, max) (jitter of the face's scale); validation pairs cut ``margin_min``. 0 keeps the
    evaluation crop (SBI's box + 1/8 per side, no margin cut)."""
    num_workers: int = 0
    cache_dir: str | None = None
    data_root: str | None = None


@dataclass
class ModelConfig:
    variant: str = "efnb4"
    overrides: dict[str, Any] = field(default_factory=dict)
    """Keys of the variant's model config to replace."""
    init_weights: str | None = None
    """Optional dfbench weights directory (or ``.safetensors``) to start from (e.g. an ImageNet
    EfficientNet-B4 converted to our format, as the official run starts); nothing is downloaded."""


@dataclass
class OptimConfig:
    name: str = "sgd"
    """``sgd`` (official, momentum 0.9) or ``adam``."""
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    sam: bool = True
    sam_rho: float = 0.05
    decay_start_epoch: float | None = 75.0
    """Linear decay of the lr to 0 at ``run.epochs`` from this epoch (None: constant lr)."""


@dataclass
class RunConfig:
    out_dir: str = "runs/sbi"
    seed: int = 5
    epochs: int = 100
    batch_size: int = 16
    """Real/fake pairs per optimiser step per process (2 x this many images)."""
    accum_steps: int = 1
    steps_per_epoch: int | None = None
    bn_momentum: float | None = None
    """Replace the momentum of every BatchNorm (None keeps the network's 0.01, as the official
    TF-style EfficientNet). Short runs from random init need ~0.1, or the running statistics used
    at evaluation still mostly hold their initial values."""
    precision: str = "auto"
    device: str = "auto"
    threads: int | None = None
    log_every: int = 10
    tensorboard: bool = True
    sync_bn: bool = True


@dataclass
class TrainConfig(core.ConfigMethods):
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def validate(self) -> TrainConfig:
        from dfbench.training.data import TrainingDataError, check_selection_split

        d = self.data
        if not 0 <= d.margin_min < d.margin_max:
            raise ConfigError(f"data.margin_min/margin_max: need 0 <= min < max, got {d.margin_min}, {d.margin_max}")
        if self.optim.name not in ("sgd", "adam"):
            raise ConfigError(f"optim.name: unknown optimiser {self.optim.name!r}; choose 'sgd' or 'adam'")
        try:
            check_selection_split(None if d.val_split.startswith("holdout:") else d.val_split,
                                  train_split=d.train_split)
        except TrainingDataError as e:
            raise ConfigError(str(e).replace("config: ", "data.val_split: ", 1)) from None
        return self


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Defaults, then the YAML file (if any), then ``key.sub=value`` overrides (YAML-typed values)."""
    hint = f"write one with `dfbench sbi train --print-config > {Path(path).name}`" if path else ""
    return core.load_config(TrainConfig, path, overrides or [], hint=hint)
