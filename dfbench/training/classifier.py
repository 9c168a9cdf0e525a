"""One training task for every frame-level crop classifier: ``dfbench <family> train --config``.

Trains any registered *frame* detector variant (Xception, EfficientNet-B4, SPSL, UnivFD's probe,
a plugin's own network) as a binary classifier of face crops, the recipe the DeepfakeBench
baselines share: BCE on the detector's fake logit (:meth:`dfbench.detector.Detector.logits`, so
two-class heads train as ``out[1] - out[0]``, i.e. their softmax cross-entropy), inputs through
the detector's own :meth:`~dfbench.detector.Detector.normalise` (training sees what evaluation
feeds), Adam or AdamW, an optional step decay per epoch, horizontal flips and the mild jitter of
:mod:`dfbench.training.crops`. Only parameters with ``requires_grad`` train: a family that
freezes part of its network (UnivFD's CLIP encoder) trains the rest (the linear probe), and frozen
parts run in evaluation mode (their BatchNorm statistics and dropout stay as at inference).

Selection: frame AUC on videos held out of the training split (``data.val_fraction``, by video,
stratified by label) or on a validation split; the test split is refused. The selected weights
(``OUT/best``) carry a ``card`` (what they were trained on, how the checkpoint was chosen) that
:func:`dfbench.packaged.packaged_weights` reads once they are exported into a package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import (
    PRECISIONS,
    ConfigError,
    ConfigMethods,
    check_choice,
    merge,
    nest,
    parse_override,
    read_yaml,
)
from .crops import CropDataConfig, CropDataMixin
from .task import RunSettings, SelectionRule, Task


@dataclass
class DataConfig(CropDataConfig):
    train: str = "dfbench:demo"
    val_fraction: float = 0.25


@dataclass
class OptimConfig:
    name: str = "adam"          # adam | adamw
    lr: float = 2e-4
    weight_decay: float = 0.0


@dataclass
class SchedulerConfig:
    name: str = "none"          # none | step (per epoch)
    step_size: int = 10
    gamma: float = 0.5


@dataclass
class ClassifierConfig(ConfigMethods):
    detector: str = ""
    """A registered detector family with frame input (``xception``, ``spsl``, ``univfd``, ...)."""
    variant: str = "default"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    """Keys of the variant's model config to replace; recorded in the weights."""
    init: str | None = None
    """Start from a dfbench weights directory of the same variant (e.g. a converted checkpoint)."""
    out_dir: str = "runs/classifier"
    epochs: int = 10
    batch_size: int = 32
    eval_batch_size: int = 64
    accum_steps: int = 1
    max_steps_per_epoch: int = 0
    precision: str = "fp32"
    seed: int = 0
    device: str = "auto"
    threads: int = 0            # torch CPU threads (0 = torch's default)
    log_every: int = 20
    patience: int = 0           # stop after this many epochs without a better val AUC (0 = never)
    bn_momentum: float = 0.0
    """Set every BatchNorm layer's momentum (0: keep the network's). EfficientNet's 0.01 suits
    fine-tuning from ImageNet statistics; from random init, a few thousand steps leave its running
    statistics (what evaluation uses) near their initial values, so short runs from scratch need ~0.1."""
    description: str = ""
    """The card's description of the shipped weights (default: what was trained, with which command)."""
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)

    def validate(self) -> ClassifierConfig:
        from ..registry import get_registry

        check_choice("precision", self.precision, PRECISIONS)
        check_choice("optim.name", self.optim.name, ("adam", "adamw"))
        check_choice("scheduler.name", self.scheduler.name, ("step", "none"))
        if not 0 <= self.bn_momentum < 1:
            raise ConfigError(f"bn_momentum must lie in [0, 1) (0: the network's own), got {self.bn_momentum}")
        self.data.check()
        reg = get_registry()
        if self.detector not in reg.detectors:
            raise ConfigError(f"detector must be a registered family ({', '.join(sorted(reg.detectors))}), "
                              f"got {self.detector!r}")
        spec = reg.detectors[self.detector]
        names = [v.name for v in spec.variants]
        if self.variant not in names:
            raise ConfigError(f"variant must be one of {self.detector}'s {', '.join(names)}, got {self.variant!r}")
        if spec.variant(self.variant).input.unit != "frame":
            raise ConfigError(f"{self.detector} {self.variant} takes clips; the classifier task trains frame "
                              f"detectors only")
        return self


def load_classifier_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
                           *, detector: str | None = None) -> ClassifierConfig:
    """Defaults (``detector`` preset when a family's command loads it), the YAML file, then
    ``--set`` overrides; a config written for another family is refused."""
    cfg = ClassifierConfig(detector=detector or "")
    if path is not None:
        cfg = merge(cfg, read_yaml(path), source=str(path))
    for item in overrides or ():
        parts, value = parse_override(item)
        cfg = merge(cfg, nest(parts, value), source="--set")
    if detector and cfg.detector != detector:
        raise ConfigError(f"{path or '--set'}: detector {cfg.detector!r} does not match the command "
                          f"(`dfbench {detector} train`); drop the key or run `dfbench {cfg.detector} train`")
    try:
        return cfg.validate()
    except ConfigError as e:
        raise ConfigError(f"{path or 'config'}: {e}") from None


def adam_optimizer(params: Any, optim: Any) -> Any:
    """Adam or AdamW (``optim.name``) with ``optim.lr`` and ``optim.weight_decay``; fused kernels when
    the config has ``fused`` and sets it. The crop classifiers' optimiser (this task's and RECCE's)."""
    import torch

    kwargs: dict[str, Any] = {"lr": optim.lr, "weight_decay": optim.weight_decay}
    if getattr(optim, "fused", False):
        kwargs["fused"] = True
    return (torch.optim.Adam if optim.name == "adam" else torch.optim.AdamW)(params, **kwargs)


def step_scheduler(optimizer: Any, scheduler: Any) -> tuple[Any, str] | None:
    """``scheduler.name == "step"``: the lr times ``gamma`` every ``step_size`` epochs; else None."""
    import torch

    if scheduler.name != "step":
        return None
    return torch.optim.lr_scheduler.StepLR(optimizer, scheduler.step_size, scheduler.gamma), "epoch"


def _video_count(ds: Any) -> int:
    from torch.utils.data import Subset

    if isinstance(ds, Subset):
        groups = getattr(ds.dataset, "groups", None)
        return len({groups[i] for i in ds.indices}) if groups is not None else len(ds)
    return len(set(getattr(ds, "groups", range(len(ds)))))


class ClassifierTask(CropDataMixin, Task):
    """The :class:`~dfbench.training.Task` of :mod:`dfbench.training.classifier` (see there)."""

    val_level = "frame"

    def __init__(self, config: ClassifierConfig, train_dataset: Any = None, val_dataset: Any = None) -> None:
        super().__init__(config.validate())
        self.family = config.detector
        self._given = (train_dataset, val_dataset)
        self._counts = (0, 0)

    @property
    def settings(self) -> RunSettings:
        c = self.config
        return RunSettings(out_dir=c.out_dir, seed=c.seed, epochs=c.epochs, batch_size=c.batch_size,
                           accum_steps=c.accum_steps, steps_per_epoch=c.max_steps_per_epoch or None,
                           drop_last=True, val_batch_size=c.eval_batch_size, precision=c.precision,
                           device=c.device, threads=c.threads or None, log_every=c.log_every or 20,
                           tensorboard=False, num_workers=c.data.num_workers,
                           selection=SelectionRule("val_auc", 0.0, c.patience or None))

    @property
    def selection_split(self) -> str:
        from .data import holdout_split_name

        d = self.config.data
        if d.val_fraction:
            return holdout_split_name(d.train, d.train_split, d.val_fraction)
        return f"{d.val or d.train}/{d.val_split}"

    # -- model ---------------------------------------------------------------------------------
    def build(self):
        from ..registry import get_registry
        from .sam import set_bn_momentum

        c = self.config
        det = get_registry().detectors[c.detector].build(c.variant, c.model_overrides)
        if c.init:
            from ..weights import read_weights_dir

            state, _ = read_weights_dir(c.init)
            try:
                det.load_state_dict(state, strict=True)
            except RuntimeError as e:
                raise ConfigError(f"init={c.init}: does not fit {c.detector} {c.variant} "
                                  f"({str(e).splitlines()[0]})") from None
        set_bn_momentum(det.net, c.bn_momentum or None)  # 0: the network's own
        if not any(p.requires_grad for p in det.net.parameters()):
            raise ConfigError(f"{c.detector} {c.variant}: no trainable parameter (every one is frozen)")
        return det

    def train_mode(self, training: bool) -> None:
        self.net.train(training)
        if training:  # frozen parts (no parameter to train) keep their inference behaviour
            for m in self.net.modules():
                params = list(m.parameters(recurse=True))
                if params and not any(p.requires_grad for p in params):
                    m.eval()

    def make_optimizer(self, params):
        return adam_optimizer(params, self.config.optim)

    def make_scheduler(self, optimizer, steps_per_epoch):
        return step_scheduler(optimizer, self.config.scheduler)

    # -- data ----------------------------------------------------------------------------------
    def datasets(self):
        train_ds, val_ds = super().datasets()
        self._counts = (_video_count(train_ds), _video_count(val_ds))
        return train_ds, val_ds

    # -- maths -----------------------------------------------------------------------------------
    def forward(self, batch, train: bool):
        x = self.detector.normalise(batch["images"].to(self.rt.device, non_blocking=True))
        return {"logits": self.detector.logits(x).float().reshape(-1)}

    def losses(self, batch, out):
        import torch.nn.functional as F

        y = batch["labels"].to(out["logits"].device).float()
        return {"loss": F.binary_cross_entropy_with_logits(out["logits"], y)}

    # -- records ---------------------------------------------------------------------------------
    def weights_extra(self, selection):
        c, d = self.config, self.config.data
        n_train, n_val = self._counts
        held = (f"{n_val} held out by video for selection (data.val_fraction={d.val_fraction})" if d.val_fraction
                else f"selection on {d.val or d.train}/{d.val_split}")
        card = {
            "trained_on": f"{d.train} split {d.train_split}: {n_train} training videos, {held}",
            "selection": (f"epoch {selection['epoch']} of {c.epochs}: max frame AUC on {self.selection_split} = "
                          f"{selection['value']:.4f}; the test split was never read during training or selection"),
            "license": "Apache-2.0",
            "description": c.description or (f"{c.detector} {c.variant} trained with `dfbench {c.detector} train` "
                                             f"(dfbench.training.classifier)"),
        }
        return {"card": card, "training": self.config_dict()}


def train(cfg: ClassifierConfig, resume: bool = True, train_dataset: Any = None, val_dataset: Any = None,
          stop_after_epochs: int | None = None):
    """Train per ``cfg`` (under ``torchrun`` every process calls this); returns the core's
    :class:`~dfbench.training.trainer.TrainResult` (``best_weights_dir`` holds the selected weights)."""
    from .trainer import train as core_train

    return core_train(ClassifierTask(cfg, train_dataset, val_dataset), resume=resume,
                      stop_after_epochs=stop_after_epochs)


__all__ = ["ClassifierConfig", "ClassifierTask", "adam_optimizer", "load_classifier_config", "step_scheduler", "train"]
