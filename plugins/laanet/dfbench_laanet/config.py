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

from dfbench.synthesis.task import PairDataConfig, PairModelConfig, PairRunConfig
from dfbench.training import config as core
from dfbench.training.config import ConfigError  # noqa: F401  (re-exported: the one config error)


@dataclass
class DataConfig(PairDataConfig):
    method: str = "sbi"
    """Pseudo-fake generator: ``sbi`` or ``bi``."""
    crop_size: int = 256
    """Size of the real face crops the generators start from (LAA-Net: 256; it extracts 128 frames
    per video and samples 8 every epoch)."""
    bi_neighbours: int = 30
    bi_candidates: int | None = 10_000


@dataclass
class ModelConfig(PairModelConfig):
    pass


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
class RunConfig(PairRunConfig):
    out_dir: str = "runs/laanet"
    seed: int = 317
    cross_pairs: bool = False
    """Never let a real and its own pseudo-fake share a BatchNorm batch: the step runs as (at
    least) two micro-batches, reals of one half of the pairs with the fakes of the other half.
    In a joint batch BatchNorm lets the network compare each fake with its twin, a cue that
    evaluation (one video at a time) never offers, and short from-scratch runs learn that
    shortcut (demo, 80 epochs: best held-out AUC 0.67 joint, 0.77 crossed). Same loss and
    gradient normalisation; only the BatchNorm batches change (also under DDP with sync BN)."""
    freeze_backbone_epochs: int = 0


@dataclass
class TrainConfig(core.ConfigMethods):
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def validate(self) -> TrainConfig:
        self.data.check_selection_split()
        return self


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Defaults, then the YAML file (if any), then ``key.sub=value`` overrides (YAML-typed values)."""
    hint = f"write one with `dfbench laanet train --print-config > {Path(path).name}`" if path else ""
    return core.load_config(TrainConfig, path, overrides or [], hint=hint)
