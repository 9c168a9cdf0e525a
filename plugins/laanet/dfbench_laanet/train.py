"""LAA-Net's training task: real faces with online SBI/BI pseudo-fakes, on the dfbench training core.

Nguyen et al., "Laa-Net: Localized Artifact Attention Network for Quality-Agnostic and
Generalizable Deepfake Detection", CVPR 2024, https://arxiv.org/abs/2401.13856.
Recipe (SAM wrapping Adam, LinearDecayLR with a booster, optional backbone freeze, focal + BCE +
consistency losses) as the released SBI weights were trained; defaults in :mod:`.config`.

The loop, processes, precision, checkpoints, exact resume, validation and selection are the
core's (:mod:`dfbench.training`). What is LAA-Net's own:

* **Pairs.** A batch is B reals then their B pseudo-fakes; micro-batches keep pair i at rows i
  and B+i together, and ``run.cross_pairs`` rolls the fakes so a real and its own fake never share
  a BatchNorm batch (a shortcut evaluation never offers).
* **Global loss normalisers.** Heatmap positives, samples and pixels are counted over the whole
  global batch (all processes), so N processes follow one process with N× the batch exactly.
* **SAM** wraps Adam (the step itself is the core's pair task's, :class:`dfbench.synthesis.task.PairTask`,
  with :mod:`dfbench.training.sam`, shared with SBI).
* **Selection** reads pseudo-fakes of the *source* dataset's validation split (or of training
  videos held out with ``data.val_split: holdout:F``); the test split is refused by the config.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from dfbench.synthesis.sources import load_training_videos
from dfbench.synthesis.task import PairTask, load_init_weights, pair_micro_batches
from dfbench.training import TrainingError
from dfbench.training.sam import SAM
from dfbench.training.trainer import TrainResult
from dfbench.training.trainer import train as core_train

from .config import TrainConfig
from .losses import LAANetLoss, LossNorm
from .optim import lr_at


def cross_pairs(batch: dict[str, torch.Tensor], n_micro: int = 2) -> tuple[dict[str, torch.Tensor], int]:
    """Reorder a reals-then-fakes batch so that no micro-batch holds a real and its own fake.

    The fakes (and their targets) are rolled by half the pairs, and the number of micro-batches
    is raised until each holds at most that many pairs; :func:`~dfbench.synthesis.task.pair_micro_batches` then keeps rows
    i and B+i together, which are now a real and the fake of another frame.
    Returns the reordered batch and the number of micro-batches to split it into.
    """
    b = batch["images"].shape[0] // 2
    half = b // 2
    if half < 1:
        raise TrainingError("run.cross_pairs needs at least 2 pairs per process batch; raise run.batch_size")
    order = torch.cat([torch.arange(b), b + (torch.arange(b) + half) % b])
    return {k: v[order] for k, v in batch.items()}, max(n_micro, -(-b // half))


def build_detector_for(cfg: TrainConfig):
    """The LAA-Net detector (spec + variant attached) the config trains, untrained."""
    from .model import build_detector
    from .spec import laanet_spec

    spec = laanet_spec()
    variant = spec.variant(cfg.model.variant).with_config(cfg.model.overrides)
    size = cfg.model.overrides.get("image_size")
    if size is not None and int(size) != variant.input.size:
        # A new input size is a new input contract: the crops the trainer makes and the
        # detector's declared size must agree (weights saved this way need a matching variant).
        variant = replace(variant, input=replace(variant.input, size=int(size)))
    det = build_detector(variant)
    det.spec, det.variant = spec, variant
    return load_init_weights(det, cfg.model.init_weights)


class LAANetTask(PairTask):
    family = "laanet"
    display_name = "LAA-Net"
    loss_key = "total"
    loss_is_global = True  # LossNorm counts over the global batch

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(config)
        c = config.loss
        self.loss = LAANetLoss(c.hm_weight, c.cls_weight, c.cst_weight, c.focal_eps)
        self.norm: LossNorm | None = None
        self._in_step = False
        self.pseudo_fakes = f"{config.data.method.upper()} pseudo-fakes"

    def untrained_detector(self):
        return build_detector_for(self.config)

    def make_optimizer(self, params):
        o = self.config.optim
        base = torch.optim.Adam(params, lr=o.base_lr, weight_decay=o.weight_decay)
        self.sam = SAM(base, o.sam_rho) if o.sam else None
        return base

    def make_scheduler(self, optimizer, steps_per_epoch: int):
        o, epochs = self.config.optim, self.config.run.epochs

        def factor(step: int) -> float:
            e = step / steps_per_epoch if o.per_step else float(step // steps_per_epoch)
            return lr_at(e, o, epochs) / o.base_lr if o.base_lr else 0.0

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor), "step"

    # -- data --------------------------------------------------------------------------------
    def pairs(self, videos, train: bool, seed: int):
        """SBI or BI pairs with LAA-Net's heatmap and consistency targets."""
        from dfbench.synthesis.pairs import PairDataset, make_generator

        from .targets import pair_targets

        cfg, d = self.config, self.config.data
        cache = d.cache_dir or str(Path(cfg.run.out_dir) / "cache")
        gen = make_generator(d.method, videos, int(self.detector.input_spec.size), d.augment if train else False,
                             d.bi_neighbours, d.bi_candidates, cache, seed)
        return PairDataset(videos, gen, d.frames_per_video if train else d.val_frames_per_video, seed, train,
                           targets=pair_targets)

    def set_epoch(self, epoch: int) -> None:
        frozen = epoch < self.config.run.freeze_backbone_epochs
        for p in getattr(self.net, "encoder", nn.Module()).parameters():
            p.requires_grad_(not frozen)

    def begin_step(self, batch):
        pos = float((batch["heatmap"] == 1.0).sum())
        n_img = float(batch["images"].shape[0])
        hw = float(batch["heatmap"][0].numel())
        pos, n_img = self.rt.all_sum([pos, n_img])
        self.norm = LossNorm(num_pos=pos, n_samples=n_img, n_pixels=n_img * hw)
        return batch

    def micro_batches(self, batch, n):
        if self.config.run.cross_pairs:
            batch, n = cross_pairs(batch, n)
        return pair_micro_batches(batch, n)

    # -- maths ---------------------------------------------------------------------------------
    def forward(self, batch, train: bool):
        self._in_step = train
        x = self.detector.normalise(batch["images"].to(self.rt.device, non_blocking=True))
        out = self.net(x)
        return {**out, "logits": out["cls"].reshape(-1)}

    def losses(self, batch, out):
        dev = self.rt.device
        return self.loss(out, batch["heatmap"].to(dev), batch["consistency"].to(dev), batch["labels"].to(dev),
                         self.norm if self._in_step else None)


def train(cfg: TrainConfig, resume: bool = True, stop_after_epochs: int | None = None) -> TrainResult:
    """Train LAA-Net as ``cfg`` says; under ``torchrun`` every process calls this."""
    return core_train(LAANetTask(cfg), resume=resume, stop_after_epochs=stop_after_epochs)


__all__ = ["SAM", "LAANetTask", "build_detector_for", "cross_pairs", "load_training_videos", "lr_at", "train"]
