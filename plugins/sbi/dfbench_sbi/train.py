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

import torch
import torch.nn.functional as F

from dfbench.synthesis.task import PairTask, load_init_weights
from dfbench.training.trainer import TrainResult
from dfbench.training.trainer import train as core_train

from .config import TrainConfig


def build_detector_for(cfg: TrainConfig):
    """The SBI detector (spec + variant attached) the config trains, untrained or initialised."""
    from .model import build_detector
    from .spec import SPEC

    variant = SPEC.variant(cfg.model.variant).with_config(cfg.model.overrides)
    det = build_detector(variant)
    det.spec, det.variant = SPEC, variant
    return load_init_weights(det, cfg.model.init_weights)


def sbi_pairs(videos, out_size: int, frames_per_video: int, seed: int, train: bool,
              margin: tuple[int, int] = (0, 25)):
    """A per-epoch dataset of (real, self-blended fake) pairs from the shared SBI generator."""
    from dfbench.synthesis.pairs import PairDataset
    from dfbench.synthesis.sbi import SBIGenerator

    sbi = SBIGenerator(out_size=out_size, train=train, margin=margin)

    def gen(v: int, f: int, rng):
        return sbi(videos[v].frames[f], videos[v].landmarks[f], rng)

    return PairDataset(videos, gen, frames_per_video, seed, train)


def linear_decay(epoch: int, start: float | None, epochs: int) -> float:
    """lr factor: 1 until ``start``, then linear to 0 at ``epochs`` (the official LinearDecayLR)."""
    if start is None or epoch < start or epochs <= start:
        return 1.0
    return max(0.0, 1.0 - (epoch - start) / (epochs - start))


class SBITask(PairTask):
    """SBI's own parts: network, self-blended pairs, SGD/Adam (+ SAM), linear decay, 2-way CE."""

    family = "sbi"
    display_name = "SBI"
    pseudo_fakes = "SBI pseudo-fakes"
    loss_key = "loss"

    def untrained_detector(self):
        return build_detector_for(self.config)

    def pairs(self, videos, train: bool, seed: int):
        d = self.config.data
        # Validation pairs are finished like evaluation crops (no augmentation), as before.
        return sbi_pairs(videos, int(self.detector.input_spec.size),
                         d.frames_per_video if train else d.val_frames_per_video, seed,
                         d.augment if train else False, (d.margin_min, d.margin_max))

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

    # -- maths ---------------------------------------------------------------------------------
    def forward(self, batch, train: bool):
        x = self.detector.normalise(batch["images"].to(self.rt.device, non_blocking=True))
        out = self.net(x)  # [B, 2]: (real, fake)
        return {"out": out, "logits": out[:, 1] - out[:, 0]}

    def losses(self, batch, out):
        labels = batch["labels"].to(self.rt.device).long()
        return {"loss": F.cross_entropy(out["out"].float(), labels)}


def train(cfg: TrainConfig, resume: bool = True, stop_after_epochs: int | None = None) -> TrainResult:
    """Train SBI as ``cfg`` says; under ``torchrun`` every process calls this."""
    return core_train(SBITask(cfg), resume=resume, stop_after_epochs=stop_after_epochs)


__all__ = ["SBITask", "build_detector_for", "linear_decay", "sbi_pairs", "train"]
