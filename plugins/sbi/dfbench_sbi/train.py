"""SBI's training task: real faces and their self-blended pseudo-fakes, on the dfbench training core.

Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022,
https://arxiv.org/abs/2204.08376. Recipe defaults in :mod:`.config` (2-way cross-entropy, SAM
around SGD, 380 px, linear lr decay over the last quarter).

One generator, two consumers: the pseudo-fakes come from the core's SBI generator
(:class:`dfbench.synthesis.sbi.SBIGenerator`, which LAA-Net trains on too), the real faces from
the core's loader (:func:`dfbench.synthesis.sources.load_training_videos`, the evaluation crop
path), and SAM from :mod:`dfbench.training.sam`, so this plugin depends on the core only. The
generator's defaults are LAA-Net's variant of SBI (its blend-mask resize range and hull choice);
the pairs SBI trains on differ from the official loader's in those details, recorded in the run's
config.

The loop, processes, precision, checkpoints, exact resume, validation and selection are the
core's (:mod:`dfbench.training`); SBI's own parts are the loss, the optional SAM step and the
schedule. Selection reads pseudo-fakes of the source's validation split (or held-out training
videos); the test split is refused by the config.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from dfbench.errors import DfbenchError
from dfbench.training import RunSettings, Task
from dfbench.training.trainer import TrainResult
from dfbench.training.trainer import train as core_train

from .config import TrainConfig

log = logging.getLogger(__name__)


def build_detector_for(cfg: TrainConfig):
    """The SBI detector (spec + variant attached) the config trains, untrained or initialised."""
    from .model import build_detector
    from .spec import SPEC

    variant = SPEC.variant(cfg.model.variant)
    if cfg.model.overrides:
        variant = replace(variant, config={**variant.config, **cfg.model.overrides})
    det = build_detector(variant)
    det.spec, det.variant = SPEC, variant
    if cfg.model.init_weights:
        from dfbench.weights import read_weights_dir

        state, _ = read_weights_dir(cfg.model.init_weights)
        missing, unexpected = det.load_state_dict(state, strict=False)
        log.info("initialised from %s (%d missing, %d unexpected keys)", cfg.model.init_weights,
                 len(missing), len(unexpected))
    return det


def sbi_pairs(videos, out_size: int, frames_per_video: int, seed: int, train: bool,
              margin: tuple[int, int] = (0, 25)):
    """A per-epoch dataset of (real, self-blended fake) pairs from the shared SBI generator."""
    from dfbench.synthesis.pairs import PairDataset
    from dfbench.synthesis.sbi import SBIGenerator

    sbi = SBIGenerator(out_size=out_size, train=train, margin=margin)

    def gen(v: int, f: int, rng: np.random.Generator):
        return sbi(videos[v].frames[f], videos[v].landmarks[f], rng)

    return PairDataset(videos, gen, frames_per_video, seed, train)


def linear_decay(epoch: int, start: float | None, epochs: int) -> float:
    """lr factor: 1 until ``start``, then linear to 0 at ``epochs`` (the official LinearDecayLR)."""
    if start is None or epoch < start or epochs <= start:
        return 1.0
    return max(0.0, 1.0 - (epoch - start) / (epochs - start))


class SBITask(Task):
    family = "sbi"
    loss_key = "loss"

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(config)
        self.sam = None

    @property
    def settings(self) -> RunSettings:
        from dfbench.synthesis.pairs import pair_run_settings

        return pair_run_settings(self.config)

    @property
    def selection_split(self) -> str:
        return f"{self.config.data.source}:{self.config.data.val_split}"

    def build(self):
        from dfbench.training.sam import set_bn_momentum

        det = build_detector_for(self.config)
        set_bn_momentum(det.net, self.config.run.bn_momentum)
        return det

    def make_optimizer(self, params):
        o = self.config.optim
        if o.name == "sgd":
            base = torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
        else:
            base = torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
        if o.sam:
            from dfbench.training.sam import SAM

            self.sam = SAM(base, o.sam_rho)
        return base

    def make_scheduler(self, optimizer, steps_per_epoch: int):
        o, epochs = self.config.optim, self.config.run.epochs
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda e: linear_decay(e, o.decay_start_epoch, epochs)), "epoch"

    # -- data --------------------------------------------------------------------------------
    def datasets(self):
        from dfbench.synthesis.sources import load_training_videos

        cfg, d = self.config, self.config.data
        size = int(self.detector.input_spec.size)
        margin = (d.margin_min, d.margin_max)
        train_videos = load_training_videos(cfg, d.train_split, self.detector.input_spec)
        train_set = sbi_pairs(train_videos, size, d.frames_per_video, cfg.run.seed, d.augment, margin)
        val_set = None
        if d.val_split and self.rt.is_main:
            try:
                val_videos = load_training_videos(cfg, d.val_split, self.detector.input_spec)
            except DfbenchError as e:
                log.warning("no validation split (%s): checkpoint selection falls back to the last epoch", e)
                val_videos = []
            if val_videos:
                val_set = sbi_pairs(val_videos, size, d.val_frames_per_video, cfg.run.seed + 1, False, margin)
        return train_set, val_set

    def set_epoch(self, epoch: int) -> None:
        """Nothing per epoch beyond the datasets' own re-draw (the core calls their set_epoch)."""

    def collate(self, items):
        """The reals, then their fakes (labels 0 then 1); SBI needs no per-pair targets."""
        from dfbench.synthesis.pairs import collate_pairs

        return collate_pairs(items)

    def micro_batches(self, batch, n):
        """Keep each real with its fake (rows i and B+i) so every micro-batch is balanced."""
        b = batch["images"].shape[0] // 2
        bounds = np.linspace(0, b, n + 1).astype(int)
        out = []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi > lo:
                idx = torch.cat([torch.arange(lo, hi), torch.arange(b + lo, b + hi)])
                out.append({k: v[idx] for k, v in batch.items()})
        return out

    # -- maths ---------------------------------------------------------------------------------
    def forward(self, batch, train: bool):
        x = self.detector.normalise(batch["images"].to(self.rt.device, non_blocking=True))
        out = self.net(x)  # [B, 2]: (real, fake)
        return {"out": out, "logits": out[:, 1] - out[:, 0]}

    def losses(self, batch, out):
        labels = batch["labels"].to(self.rt.device).long()
        return {"loss": F.cross_entropy(out["out"].float(), labels)}

    def optimizer_step(self, step):
        from dfbench.training.sam import sam_step

        return sam_step(self.sam, step, self.rt)

    def weights_extra(self, selection):
        cfg = self.config
        card = {
            "trained_on": f"{cfg.data.source} ({cfg.data.train_split}), SBI pseudo-fakes",
            "selection": f"epoch {selection['epoch']}: {selection['rule']} = {selection['value']:.4f}",
            "license": "Apache-2.0",
            "description": f"SBI {self.detector.variant.name} trained with dfbench sbi train",
        }
        return {"card": card, "train_config": cfg.to_dict()}


def train(cfg: TrainConfig, resume: bool = True, stop_after_epochs: int | None = None) -> TrainResult:
    """Train SBI as ``cfg`` says; under ``torchrun`` every process calls this."""
    return core_train(SBITask(cfg), resume=resume, stop_after_epochs=stop_after_epochs)


__all__ = ["SBITask", "build_detector_for", "linear_decay", "sbi_pairs", "train"]
