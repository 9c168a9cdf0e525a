"""RECCE's training task (``dfbench recce train --config CFG.yaml``) on the dfbench training core.

Recipe of the official code: BCE + 0.1 * reconstruction (real only) + 0.1 * metric loss, Adam lr
2e-4 / wd 1e-5, StepLR per epoch, tiny white noise on half the batch (inside the network),
horizontal flips. Differences, on purpose:

- Early stopping and checkpoint selection read the *validation* data only (the official config
  validates on the test split, which the config refuses); the rule is recorded with the weights.
- Optional geometric / colour jitter (``data.augment``, :mod:`dfbench.training.crops`), off by
  default; drawn per sample from (seed, epoch, index), so a resumed run replays it.
- A final batch of one is trained, not dropped: BatchNorm layers use their running statistics for
  that step (batch statistics of a single sample are degenerate and can raise on 1x1 maps).
- Normalisation is the detector's own (:meth:`dfbench.detector.Detector.normalise`), as in
  evaluation.

Loop, processes, precision, checkpoints, exact resume and selection are the core's
(:mod:`dfbench.training`).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from dfbench.training import RunSettings, SelectionRule, Task
from dfbench.training.classifier import adam_optimizer, step_scheduler
from dfbench.training.crops import CropDataMixin
from dfbench.training.data import holdout_split_name
from dfbench.training.trainer import train as core_train

from .config import TrainConfig
from .export import export_weights
from .losses import RecceLoss
from .model import RecceDetector, RecceNet, build_net

log = logging.getLogger(__name__)


@contextlib.contextmanager
def bn_running_stats_if_single(model: nn.Module, batch: int):
    """For a batch of one, run BatchNorm on running statistics (see the module docstring)."""
    if batch != 1:
        yield
        return
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
    for m in bns:
        m.eval()
    try:
        yield
    finally:
        for m in bns:
            m.train()


def _init_weights(net: RecceNet, source: str) -> None:
    """``cfg.init``: dfbench weights dir, official RECCE checkpoint or an Xception state dict."""
    from dfbench.weights import (
        WEIGHTS_FILE,
        load_torch_checkpoint,
        read_weights_dir,
        unwrap_state_dict,
    )

    path = Path(source).expanduser()
    if path.is_dir() or path.name == WEIGHTS_FILE:
        state, _ = read_weights_dir(path)
        state = {k[len("net."):]: v for k, v in state.items() if k.startswith("net.")} or state
    else:
        state = unwrap_state_dict(load_torch_checkpoint(path))
    if not any(k.startswith(("encoder.", "decoder1.")) for k in state):
        # A bare Xception (ImageNet) state dict: load it into the encoder, drop its classifier.
        state = {"encoder." + k: v for k, v in state.items() if not k.startswith("fc.")}
    own = net.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    skipped = sorted(set(state) - set(usable) - {"encoder.fc.weight", "encoder.fc.bias"})
    if not usable:
        from dfbench.errors import WeightsError

        raise WeightsError(f"init={source}: no tensor matches the RECCE network (wrong file or variant?)")
    net.load_state_dict(usable, strict=False)
    log.info("init from %s: %d tensors loaded, %d skipped%s", source, len(usable), len(skipped),
             f" (e.g. {skipped[:3]})" if skipped else "")


class RecceTask(CropDataMixin, Task):
    family = "recce"

    def __init__(self, config: TrainConfig, train_dataset: Dataset | None = None,
                 val_dataset: Dataset | None = None) -> None:
        super().__init__(config.validate())
        self._given = (train_dataset, val_dataset)
        self.criterion = RecceLoss(config.lambda_recons, config.lambda_metric, config.recons_kind)
        self._compiled = None

    @property
    def settings(self) -> RunSettings:
        c = self.config
        metric = "val_auc" if c.early_stopping.metric == "auc" else "val_loss"
        return RunSettings(out_dir=c.out_dir, seed=c.seed, epochs=c.epochs, batch_size=c.batch_size,
                           accum_steps=c.accum_steps, steps_per_epoch=c.max_steps_per_epoch or None, drop_last=False,
                           val_batch_size=c.eval_batch_size, precision=c.precision, device=c.device,
                           threads=c.threads or None, log_every=c.log_every or 20, tensorboard=False,
                           num_workers=c.data.num_workers,
                           selection=SelectionRule(metric, c.early_stopping.min_delta, c.early_stopping.patience))

    @property
    def selection_split(self) -> str:
        d = self.config.data
        if d.val_fraction:
            return holdout_split_name(d.train, d.train_split, d.val_fraction)
        return d.val_split

    def build(self):
        from .spec import SPEC

        c = self.config
        variant = SPEC.variant(c.variant).with_config(c.model_overrides)
        net = build_net(dict(variant.config))
        if c.init:
            _init_weights(net, c.init)
        det = RecceDetector(net, variant.input)
        det.spec, det.variant = SPEC, variant
        if torch.cuda.is_available():
            torch.backends.cuda.matmul.allow_tf32 = c.tf32
            torch.backends.cudnn.allow_tf32 = c.tf32
        if c.channels_last:
            net.to(memory_format=torch.channels_last)
        return det

    def make_optimizer(self, params):
        return adam_optimizer(params, self.config.optim)  # the core crop classifier's (with fused)

    def make_scheduler(self, optimizer, steps_per_epoch):
        return step_scheduler(optimizer, self.config.scheduler)

    # -- maths ---------------------------------------------------------------------------------
    def forward(self, batch, train: bool):
        x = batch["images"].to(self.rt.device, non_blocking=True)
        x = self.detector.normalise(x)  # uint8, or float 0..255 after augmentation
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if not train:
            return {"logits": self.net(x).float().reshape(-1)}
        fwd = self.net.forward_train
        if self.config.compile:
            self._compiled = self._compiled or torch.compile(fwd)
            fwd = self._compiled
        with bn_running_stats_if_single(self.net, x.shape[0]):
            out = fwd(x)
        return {**out, "x": x, "logits": out["logits"].float().reshape(-1)}

    def losses(self, batch, out):
        y = batch["labels"].to(out["logits"].device)
        if "recons" not in out:  # validation: the classification loss only
            return {"loss": nn.functional.binary_cross_entropy_with_logits(out["logits"], y.float())}
        return self.criterion(out, out["x"], y)

    def weights_extra(self, selection):
        return {"training": self.config_dict()}


def train(cfg: TrainConfig, resume: bool = True, train_dataset: Dataset | None = None,
          val_dataset: Dataset | None = None) -> dict[str, Any]:
    """Train per ``cfg``; returns ``{best_epoch (0-based), best_value, weights_dir, history}``.

    ``train_dataset`` / ``val_dataset`` override the config's data sources (Python API, tests).
    Writes ``out_dir/last.pt`` (resumable checkpoint) and ``out_dir/best/`` (dfbench weights of the
    epoch selected on the validation data).
    """
    res = core_train(RecceTask(cfg, train_dataset, val_dataset), resume=resume)
    best = res.best or {}
    return {"best_epoch": int(best.get("epoch", 0)) - 1, "best_value": best.get("value", float("nan")),
            "weights_dir": str(Path(cfg.out_dir) / "best"), "history": res.history, "result": res}


__all__ = ["RecceTask", "bn_running_stats_if_single", "export_weights", "train"]
