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

from dfbench.synthesis.task import PairDataConfig, PairModelConfig, PairRunConfig
from dfbench.training import config as core
from dfbench.training.config import ConfigError, check_choice


@dataclass
class DataConfig(PairDataConfig):
    crop_size: int = 380
    """Size of the real face crops the generator starts from (the variant's evaluation crop,
    resized to this size)."""
    margin_min: int = 0
    margin_max: int = 25
    """Pixels cut from each side of a crop before it is fitted to the network, drawn per training
    pair in [min, max) (jitter of the face's scale); validation pairs cut ``margin_min``. 0 keeps the
    evaluation crop (SBI's box + 1/8 per side, no margin cut)."""


@dataclass
class ModelConfig(PairModelConfig):
    pass


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
class RunConfig(PairRunConfig):
    out_dir: str = "runs/sbi"
    seed: int = 5
    batch_size: int = 16
    """Real/fake pairs per optimiser step per process (2 x this many images)."""


@dataclass
class TrainConfig(core.ConfigMethods):
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def validate(self) -> TrainConfig:
        d = self.data
        if not 0 <= d.margin_min < d.margin_max:
            raise ConfigError(f"data.margin_min/margin_max: need 0 <= min < max, got {d.margin_min}, {d.margin_max}")
        check_choice("optim.name", self.optim.name, ("sgd", "adam"))
        d.check_selection_split()
        return self


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Defaults, then the YAML file (if any), then ``key.sub=value`` overrides (YAML-typed values)."""
    hint = f"write one with `dfbench sbi train --print-config > {Path(path).name}`" if path else ""
    return core.load_config(TrainConfig, path, overrides or [], hint=hint)
