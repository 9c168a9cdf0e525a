"""Training configuration of LAA-Net: dataclasses, YAML on disk, dotted command-line overrides.

Defaults reproduce the released SBI weights' recipe (our clean-room LAA-Net notes §2): SAM(Adam,
rho 0.05, weight decay 1e-4), base lr 1e-7 with booster 500 (peak 5e-5) warmed up over 25 epochs
and decayed to 0 at 100, loss weights hm 10 / cls 1 / cst 100, 8 frames per video re-sampled every
epoch, 8 real/fake pairs per step. ``loss.hm_weight=100`` gives the public SBI config, and
``optim.base_lr=5e-5 optim.booster=4 run.freeze_backbone_epochs=6`` its schedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dfbench.training import config as core
from dfbench.training.config import ConfigError  # noqa: F401  (re-exported: the one config error)


@dataclass
class DataConfig:
    source: str = "dataset:demo"
    """Real training faces: ``dataset:NAME`` (real videos of a registered dataset, cropped with the
    variant's cropper), ``npz:DIR`` (one ``.npz`` per video with ``crops`` [N,H,W,3] uint8 and
    ``landmarks`` [N,K,2]) or ``faces:N`` (N jittered videos of the offline portraits; smoke tests)."""
    train_split: str = "train"
    val_split: str = "val"
    """Source validation split for checkpoint selection; ``holdout:0.2`` holds out 20 % of the
    training split's videos when the dataset has no validation split (e.g. the demo)."""
    extract_frames: int = 32
    """Frames decoded and cropped per real video (``dataset:`` source); every epoch samples
    ``frames_per_video`` of them (LAA-Net extracts 128 and samples 8)."""
    method: str = "sbi"
    """Pseudo-fake generator: ``sbi`` or ``bi``."""
    frames_per_video: int = 8
    val_frames_per_video: int = 8
    augment: bool = True
    """Final joint augmentation of training pairs (margin jitter, flip, crop/scale/erasing, colour
    jitter, JPEG). ``false`` finishes them like validation pairs (eval-protocol margin, no jitter);
    the pseudo-fake synthesis itself stays random either way."""
    crop_size: int = 256
    """Size of the real face crops the generators start from (LAA-Net: 256)."""
    bi_neighbours: int = 30
    bi_candidates: int | None = 10_000
    num_workers: int = 0
    cache_dir: str | None = None
    data_root: str | None = None


@dataclass
class ModelConfig:
    variant: str = "efnb4"
    overrides: dict[str, Any] = field(default_factory=dict)
    """Keys of the variant's model config to replace (e.g. ``dropout: 0``)."""
    init_weights: str | None = None
    """Optional dfbench weights directory (or ``.safetensors``) to start from (e.g. an ImageNet
    backbone converted to our format); nothing is downloaded."""


@dataclass
class LossConfig:
    hm_weight: float = 10.0
    cls_weight: float = 1.0
    cst_weight: float = 100.0
    focal_eps: float = 0.35


@dataclass
class OptimConfig:
    base_lr: float = 1e-7
    booster: float = 500.0
    warmup_epochs: float = 25.0
    """LinearDecayLR: linear warm-up from base_lr to booster·base_lr until this epoch…"""
    decay_end_epoch: float | None = None
    """…then linear decay to 0 at this epoch (default: run.epochs)."""
    per_step: bool = False
    """Evaluate the schedule at fractional epochs (smooth for short runs); official: per epoch."""
    weight_decay: float = 1e-4
    sam: bool = True
    sam_rho: float = 0.05


@dataclass
class RunConfig:
    out_dir: str = "runs/laanet"
    seed: int = 317
    epochs: int = 100
    batch_size: int = 8
    """Real/fake pairs per optimiser step *per process* (2 × this many images)."""
    accum_steps: int = 1
    """Split each process's batch into this many micro-batches (same gradient, less memory)."""
    cross_pairs: bool = False
    """Never let a real and its own pseudo-fake share a BatchNorm batch: the step runs as (at
    least) two micro-batches, reals of one half of the pairs with the fakes of the other half.
    In a joint batch BatchNorm lets the network compare each fake with its twin, a cue that
    evaluation (one video at a time) never offers, and short from-scratch runs learn that
    shortcut (demo, 80 epochs: best held-out AUC 0.67 joint, 0.77 crossed). Same loss and
    gradient normalisation; only the BatchNorm batches change (also under DDP with sync BN)."""
    steps_per_epoch: int | None = None
    """Cap on optimiser steps per epoch (None: all sampled frames)."""
    freeze_backbone_epochs: int = 0
    bn_momentum: float | None = None
    """Replace the momentum of every BatchNorm (None keeps the model's: 0.01 in the backbone, as
    the official TF-style EfficientNet). Short runs from random init need ~0.1: at 0.01 the running
    statistics used in evaluation still mostly hold their initial values after a few hundred steps."""
    precision: str = "auto"
    """``fp32``, ``bf16`` (autocast; the fast path on CPUs with AMX), ``fp16`` (CUDA AMP) or
    ``auto`` (bf16 on CPU, fp16 AMP on CUDA)."""
    device: str = "auto"
    threads: int | None = None
    log_every: int = 10
    tensorboard: bool = True
    sync_bn: bool = True
    """With DDP, BatchNorm statistics over the global batch (so N processes = one big batch)."""


@dataclass
class TrainConfig(core.ConfigMethods):
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def validate(self) -> TrainConfig:
        from dfbench.training.data import TrainingDataError, check_selection_split

        d = self.data
        try:
            check_selection_split(None if d.val_split.startswith("holdout:") else d.val_split,
                                  train_split=d.train_split)
        except TrainingDataError as e:
            raise ConfigError(str(e).replace("config: ", "data.val_split: ", 1)) from None
        return self


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Defaults, then the YAML file (if any), then ``key.sub=value`` overrides (YAML-typed values)."""
    hint = f"write one with `dfbench laanet train --print-config > {Path(path).name}`" if path else ""
    return core.load_config(TrainConfig, path, overrides or [], hint=hint)
