"""The task interface: what a detector family tells the trainer, and nothing more.

Shaped after DeepfakeBench's single trainer with per-detector ``get_losses``: the family builds
its network, turns a batch into outputs (with the fake ``logits``), and turns outputs into named
loss terms; the core (:mod:`dfbench.training.trainer`) owns everything else — device, precision,
processes, batch order, accumulation, optimiser and scaler steps, checkpoints, resume,
validation metrics, selection and logs. A family with an unusual optimiser (LAA-Net's SAM) takes
over :meth:`Task.optimizer_step` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .runtime import Runtime


@dataclass(frozen=True)
class SelectionRule:
    """How the checkpoint that ships is chosen (recorded next to the weights)."""

    metric: str = "val_auc"
    """``val_auc`` (higher is better; ties go to the lower ``val_loss``) or ``val_loss``."""
    min_delta: float = 0.0
    patience: int | None = None
    """Stop after this many epochs without improvement (None: never stop early)."""

    @property
    def maximise(self) -> bool:
        return self.metric != "val_loss"

    def describe(self, split: str) -> str:
        tie = " (ties: lower val_loss)" if self.maximise else ""
        return (f"{'max' if self.maximise else 'min'} {self.metric} on the source dataset's validation split "
                f"{split}{tie}; no test data was read")


@dataclass
class RunSettings:
    """The loop's knobs, which each family maps from its own config (so its YAML keys stay)."""

    out_dir: str
    seed: int = 0
    epochs: int = 1
    batch_size: int = 8
    """Samples per optimiser step *per process*; the global batch is this × processes."""
    accum_steps: int = 1
    """Split each process's batch into this many micro-batches (same gradient, less memory)."""
    steps_per_epoch: int | None = None
    drop_last: bool = True
    shuffle: bool = True
    """Permute the samples every epoch (False: the dataset orders itself in ``set_epoch``)."""
    val_batch_size: int | None = None
    precision: str = "auto"
    device: str = "auto"
    threads: int | None = None
    sync_bn: bool = True
    grad_clip: float = 0.0
    checkpoint_every_steps: int = 0
    log_every: int = 10
    tensorboard: bool = True
    num_workers: int = 0
    progress: bool = True
    selection: SelectionRule = field(default_factory=SelectionRule)


class Task:
    """Base class of a family's training task. Override what your family needs.

    Required: :meth:`build`, :meth:`datasets`, :meth:`forward`, :meth:`losses`,
    :meth:`make_optimizer`, :attr:`settings`, :attr:`selection_split`.
    """

    family = "detector"
    loss_key = "loss"
    """The term of :meth:`losses` that is minimised."""
    loss_is_global = False
    """True when :meth:`losses` already divides by global (all-process, whole-batch) counts;
    otherwise the core weights each micro-batch's mean loss by its share of the global batch."""
    val_level = "frame"
    """``frame`` (AUC over validation samples) or ``video`` (mean logit per ``keys`` entry)."""
    rt: Runtime
    detector: Any

    def __init__(self, config: Any) -> None:
        self.config = config

    # -- what the trainer reads -----------------------------------------------------------
    @property
    def settings(self) -> RunSettings:
        raise NotImplementedError

    @property
    def selection_split(self) -> str:
        """Where selection data comes from, e.g. ``demo/train[held-out 25% of videos]``."""
        raise NotImplementedError

    # -- model ---------------------------------------------------------------------------
    def build(self) -> Any:
        """The untrained (or initialised) :class:`~dfbench.detector.Detector`, spec attached."""
        raise NotImplementedError

    @property
    def net(self) -> nn.Module:
        return self.detector.net

    def parameters(self) -> list[nn.Parameter]:
        return [p for p in self.net.parameters() if p.requires_grad]

    def train_mode(self, training: bool) -> None:
        self.net.train(training)

    def make_optimizer(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        raise NotImplementedError

    def make_scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> tuple[Any, str] | None:
        """``(scheduler, "step" | "epoch")`` or None (constant learning rate)."""
        return None

    # -- data ----------------------------------------------------------------------------
    def datasets(self) -> tuple[Any, Any]:
        """(training set, validation set or None); sized, indexable."""
        raise NotImplementedError

    def set_epoch(self, epoch: int) -> None:
        """Called before each epoch (re-draw per-epoch samples, unfreeze a backbone, ...)."""

    def collate(self, items: list[Any]) -> dict[str, Any]:
        raise NotImplementedError

    def load_batch(self, dataset: Any, indices: list[int], epoch: int, step: int) -> dict[str, Any]:
        """One batch; any randomness must derive from (seed, epoch, step, indices) for exact resume."""
        return self.collate([dataset[i] for i in indices])

    def load_val_batch(self, dataset: Any, indices: list[int]) -> dict[str, Any]:
        """A validation batch: the evaluation view of the samples (no augmentation)."""
        return self.collate([dataset[i] for i in indices])

    def micro_batches(self, batch: dict[str, Any], n: int) -> list[dict[str, Any]]:
        """Split a batch into ``n`` micro-batches along the sample axis."""
        size = len(batch["labels"])
        bounds = [round(i * size / n) for i in range(n + 1)]
        out = []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi > lo:
                out.append({k: (v[lo:hi] if hasattr(v, "__getitem__") and len(v) == size else v)
                            for k, v in batch.items()})
        return out

    def begin_step(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Before a step's micro-batches run (e.g. compute global loss normalisers)."""
        return batch

    # -- the per-family maths ------------------------------------------------------------------
    def forward(self, batch: dict[str, Any], train: bool) -> dict[str, torch.Tensor]:
        """Outputs for a batch on ``self.rt.device``; must hold ``logits`` ``[B]`` (fake logit)."""
        raise NotImplementedError

    def losses(self, batch: dict[str, Any], out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Named loss terms; ``self.loss_key`` is minimised. Called in validation too."""
        raise NotImplementedError

    def optimizer_step(self, step: Any) -> dict[str, float] | None:
        """Take over the optimiser step (``step`` is the trainer's :class:`StepContext`);
        return the loss terms, or None to let the core step as usual."""
        return None

    # -- records -------------------------------------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        from .config import to_dict

        return to_dict(self.config)

    def weights_extra(self, selection: dict[str, Any]) -> dict[str, Any]:
        """Extra entries for the selected weights' ``config.json`` (card, training record)."""
        return {"training": self.config_dict()}


__all__ = ["RunSettings", "SelectionRule", "Task"]
