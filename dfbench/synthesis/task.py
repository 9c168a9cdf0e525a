"""What every family trained on real faces and their pseudo-fakes shares (LAA-Net, SBI): the config
sections both read the same way and the task half that is the same for both.

A family subclasses :class:`PairTask` and gives its network (:meth:`PairTask.untrained_detector`),
its pairs (:meth:`PairTask.pairs`: which generator, which per-pair targets), its optimiser, schedule
and loss; the core's :class:`PairTask` maps the run settings, builds the detector with the
configured BatchNorm momentum, reads the training and selection videos (a missing selection split
falls back to the last epoch, with a warning), batches reals then fakes, keeps each pair in one
micro-batch, takes SAM steps when the family made a SAM optimiser, and writes the weights card.
Config sections subclass :class:`PairDataConfig`, :class:`PairModelConfig` and
:class:`PairRunConfig`, changing defaults and adding the family's own fields.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import DfbenchError
from ..training.config import ConfigError
from ..training.task import RunSettings, Task

log = logging.getLogger(__name__)


@dataclass
class PairDataConfig:
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
    ``frames_per_video`` of them."""
    frames_per_video: int = 8
    val_frames_per_video: int = 8
    augment: bool = True
    """Final joint augmentation of training pairs; ``false`` finishes them like validation pairs
    (the pseudo-fake synthesis itself stays random either way)."""
    crop_size: int = 256
    """Size of the real face crops the generators start from."""
    num_workers: int = 0
    cache_dir: str | None = None
    data_root: str | None = None

    def check_selection_split(self) -> None:
        """The selection split is never the test split (a held-out fraction of train is fine)."""
        from ..training.data import TrainingDataError, check_selection_split

        try:
            check_selection_split(None if self.val_split.startswith("holdout:") else self.val_split,
                                  train_split=self.train_split)
        except TrainingDataError as e:
            raise ConfigError(str(e).replace("config: ", "data.val_split: ", 1)) from None


@dataclass
class PairModelConfig:
    variant: str = "efnb4"
    overrides: dict[str, Any] = field(default_factory=dict)
    """Keys of the variant's model config to replace (e.g. ``dropout: 0``)."""
    init_weights: str | None = None
    """Optional dfbench weights directory (or ``.safetensors``) to start from (e.g. an ImageNet
    backbone converted to our format); nothing is downloaded."""


@dataclass
class PairRunConfig:
    out_dir: str = "runs/pairs"
    seed: int = 0
    epochs: int = 100
    batch_size: int = 8
    """Real/fake pairs per optimiser step *per process* (2 × this many images)."""
    accum_steps: int = 1
    """Split each process's batch into this many micro-batches (same gradient, less memory)."""
    steps_per_epoch: int | None = None
    """Cap on optimiser steps per epoch (None: all sampled frames)."""
    bn_momentum: float | None = None
    """Replace the momentum of every BatchNorm (None keeps the network's: 0.01, as the official
    TF-style EfficientNet). Short runs from random init need ~0.1: at 0.01 the running statistics
    used in evaluation still mostly hold their initial values after a few hundred steps."""
    precision: str = "auto"
    """``fp32``, ``bf16`` (autocast; the fast path on CPUs with AMX), ``fp16`` (CUDA AMP) or
    ``auto`` (bf16 on CPU, fp16 AMP on CUDA)."""
    device: str = "auto"
    threads: int | None = None
    log_every: int = 10
    tensorboard: bool = True
    sync_bn: bool = True
    """With DDP, BatchNorm statistics over the global batch (so N processes = one big batch)."""


def load_init_weights(det: Any, path: str | None) -> Any:
    """Start ``det`` from a dfbench weights directory (non-strict: a new head may be missing)."""
    if path:
        from ..weights import read_weights_dir

        state, _ = read_weights_dir(path)
        missing, unexpected = det.load_state_dict(state, strict=False)
        log.info("initialised from %s (%d missing, %d unexpected keys)", path, len(missing), len(unexpected))
    return det


def pair_micro_batches(batch: dict[str, torch.Tensor], n: int) -> list[dict[str, torch.Tensor]]:
    """Split a reals-then-fakes batch into ``n`` micro-batches that keep each pair (rows i and
    B+i) together, so every micro-batch is balanced."""
    b = batch["images"].shape[0] // 2
    bounds = np.linspace(0, b, n + 1).astype(int)
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if hi > lo:
            idx = torch.cat([torch.arange(lo, hi), torch.arange(b + lo, b + hi)])
            out.append({k: v[idx] for k, v in batch.items()})
    return out


class PairTask(Task):
    """The half of a real/pseudo-fake training task that LAA-Net and SBI share (module docstring)."""

    #: Shown in the weights card: "SBI pseudo-fakes", "BI pseudo-fakes".
    pseudo_fakes = "pseudo-fakes"
    #: The family's name in the weights card's description ("LAA-Net", "SBI").
    display_name = ""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.sam = None  # a family that trains with SAM sets it in make_optimizer

    # -- hooks a family gives -------------------------------------------------------------------
    def untrained_detector(self) -> Any:
        """The detector (spec and variant attached) the config trains, before BatchNorm settings."""
        raise NotImplementedError

    def pairs(self, videos: list, train: bool, seed: int) -> Any:
        """The per-epoch pair dataset of ``videos`` (training pairs when ``train``)."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------
    @property
    def settings(self) -> RunSettings:
        from .pairs import pair_run_settings

        return pair_run_settings(self.config)

    @property
    def selection_split(self) -> str:
        return f"{self.config.data.source}:{self.config.data.val_split}"

    def build(self):
        from ..training.sam import set_bn_momentum

        det = self.untrained_detector()
        set_bn_momentum(det.net, self.config.run.bn_momentum)
        return det

    def datasets(self):
        from .sources import load_training_videos

        cfg, d = self.config, self.config.data
        train_set = self.pairs(load_training_videos(cfg, d.train_split, self.detector.input_spec), True, cfg.run.seed)
        val_set = None
        if d.val_split and self.rt.is_main:
            try:
                val_videos = load_training_videos(cfg, d.val_split, self.detector.input_spec)
            except DfbenchError as e:
                log.warning("no validation split (%s): checkpoint selection falls back to the last epoch", e)
                val_videos = []
            if val_videos:
                val_set = self.pairs(val_videos, False, cfg.run.seed + 1)
        return train_set, val_set

    def collate(self, items):
        """The reals, then their fakes (labels 0 then 1), per-pair targets stacked alike."""
        from .pairs import collate_pairs

        return collate_pairs(items)

    def micro_batches(self, batch, n):
        return pair_micro_batches(batch, n)

    def optimizer_step(self, step):
        from ..training.sam import sam_step

        return sam_step(self.sam, step, self.rt)

    def weights_extra(self, selection):
        cfg = self.config
        card = {
            "trained_on": f"{cfg.data.source} ({cfg.data.train_split}), {self.pseudo_fakes}",
            "selection": f"epoch {selection['epoch']}: {selection['rule']} = {selection['value']:.4f}",
            "license": "Apache-2.0",
            "description": f"{self.display_name} {self.detector.variant.name} trained with dfbench {self.family} train",
        }
        return {"card": card, "train_config": cfg.to_dict()}


__all__ = ["PairDataConfig", "PairModelConfig", "PairRunConfig", "PairTask", "load_init_weights",
           "pair_micro_batches"]
