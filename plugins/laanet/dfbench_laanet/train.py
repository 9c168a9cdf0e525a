"""Training loop of LAA-Net on real faces with online SBI/BI pseudo-fakes.

Nguyen et al., "Laa-Net: Localized Artifact Attention Network for Quality-Agnostic and
Generalizable Deepfake Detection", CVPR 2024, https://arxiv.org/abs/2401.13856.
Recipe from ``/work/shared/reference/laanet.md`` §2 (SAM wrapping Adam, LinearDecayLR with a
booster, optional backbone freeze, focal + BCE + consistency losses).

Engineering choices, each for a stated reason:

* **Exact resume.** A checkpoint (model, optimiser, RNG, history, best-so-far) is written
  atomically after every epoch; every sample is a pure function of ``(seed, epoch, index)``; so a
  run killed with ``kill -9`` and restarted ends with the same weights as an uninterrupted one.
* **Data parallel = one big batch.** Under ``torchrun``, each process takes its slice of the
  global batch, gradients are averaged with one flattened all-reduce per pass (explicit, so SAM's
  two passes, accumulation and backbone unfreezing need no DDP re-wrapping), BatchNorm statistics
  are reduced over all processes (our CPU-capable sync BN; torch's ``SyncBatchNorm`` is GPU-only)
  and the loss normalisers are global counts. N processes thus follow one process with N× batch.
* **Checkpoint selection** uses the *source* validation split only (pseudo-fakes of held-out real
  videos of the training dataset); the rule and the chosen epoch are written into the weights.
* **Precision.** bf16 autocast on CPU (AMX), bf16/fp16 autocast on CUDA; the official code
  trains in float64, which is what makes it slow.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from dfbench.errors import DfbenchError
from dfbench.weights import atomic_write_bytes, load_torch_checkpoint, save_weights

from .config import OptimConfig, TrainConfig
from .losses import LAANetLoss, LossNorm

log = logging.getLogger(__name__)

CHECKPOINT = "last.pt"
SELECTION_RULE = "max frame AUC on pseudo-fakes of the source dataset's validation split (ties: lower loss)"


class TrainingError(DfbenchError):
    """Training cannot start or continue (bad config for the data, diverged loss)."""


# ---------------------------------------------------------------------------------------------
# Schedule and optimiser


def lr_at(epoch: float, optim: OptimConfig, epochs: int) -> float:
    """LinearDecayLR: base·(1 + (booster−1)·e/W) for e < W, then booster·base decaying to 0."""
    end = optim.decay_end_epoch if optim.decay_end_epoch is not None else float(epochs)
    peak = optim.base_lr * optim.booster
    w = optim.warmup_epochs
    if w > 0 and epoch < w:
        return optim.base_lr * (1.0 + (optim.booster - 1.0) * epoch / w)
    if end <= w:
        return peak
    return max(0.0, peak * (1.0 - (epoch - w) / (end - w)))


class SAM:
    """Sharpness-Aware Minimisation (Foret et al., 2021) around a base optimiser.

    ``first_step`` moves to w + ρ·g/‖g‖ (global L2 norm); ``second_step`` restores w and lets the
    base optimiser step with the gradient taken at the perturbed point.
    """

    def __init__(self, base: torch.optim.Optimizer, rho: float = 0.05) -> None:
        self.base, self.rho = base, rho
        self._e: dict[torch.Tensor, torch.Tensor] = {}

    @property
    def param_groups(self) -> list[dict]:
        return self.base.param_groups

    def _grads(self) -> list[torch.Tensor]:
        return [p for g in self.base.param_groups for p in g["params"] if p.grad is not None]

    @torch.no_grad()
    def first_step(self) -> None:
        params = self._grads()
        if not params:
            return
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params]))
        scale = self.rho / (norm + 1e-12)
        for p in params:
            e = p.grad * scale
            p.add_(e)
            self._e[p] = e

    @torch.no_grad()
    def second_step(self) -> None:
        for p, e in self._e.items():
            p.sub_(e)
        self._e.clear()
        self.base.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return self.base.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.base.load_state_dict(state)


# ---------------------------------------------------------------------------------------------
# Distributed helpers


def _dist_on() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _sync_bn_forward(self: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm with batch statistics summed over all processes (differentiable all-reduce)."""
    if not (self.training and _dist_on()):
        return type(self).__mro__[1].forward(self, x)
    c = x.shape[1]
    xf = x.float()
    local = torch.cat([xf.sum((0, 2, 3)), (xf * xf).sum((0, 2, 3)),
                       torch.full((1,), float(x.numel() // c), device=x.device)])
    import warnings

    from torch.distributed.nn.functional import all_reduce

    with warnings.catch_warnings():  # deprecated for a private successor; still the autograd-aware one
        warnings.simplefilter("ignore", FutureWarning)
        total = all_reduce(local)
    n = total[-1]
    mean = total[:c] / n
    var = (total[c:2 * c] / n - mean * mean).clamp_min(0)
    if self.track_running_stats:
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            self.running_mean.mul_(1 - m).add_(mean.detach() * m)
            self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1).clamp_min(1)) * m)
    y = (xf - mean.view(1, c, 1, 1)) * torch.rsqrt(var.view(1, c, 1, 1) + self.eps)
    if self.affine:
        y = y * self.weight.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1)
    y = y.to(x.dtype)
    if hasattr(self, "act"):  # timm BatchNormAct2d: BN -> drop -> act
        y = self.act(self.drop(y))
    return y


def convert_sync_bn(module: nn.Module) -> nn.Module:
    """Swap every BatchNorm2d (incl. timm's BatchNormAct2d) for a globally synchronised one in place.

    The class is swapped, not the module, so parameters, buffers and the state dict are untouched.
    """
    classes: dict[type, type] = {}
    for m in module.modules():
        cls = type(m)
        if isinstance(m, nn.BatchNorm2d) and not getattr(cls, "_dfbench_sync", False):
            if cls not in classes:
                classes[cls] = type(f"Sync{cls.__name__}", (cls,), {"forward": _sync_bn_forward,
                                                                    "_dfbench_sync": True})
            m.__class__ = classes[cls]
    return module


def _all_reduce_grads(params: list[nn.Parameter], world: int) -> None:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads or world <= 1:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def _all_sum(values: list[float], device: torch.device) -> list[float]:
    if not _dist_on():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


# ---------------------------------------------------------------------------------------------
# Results and checkpoints


@dataclass
class TrainResult:
    is_main: bool
    epochs_done: int
    steps_done: int
    history: list[dict] = field(default_factory=list)
    best: dict | None = None
    best_weights_dir: str | None = None
    step_losses: list[dict] = field(default_factory=list)
    """Per-step loss terms of this invocation (rank 0), for tests and quick plots."""


def _save_checkpoint(path: Path, payload: dict) -> None:
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())


# ---------------------------------------------------------------------------------------------
# Setup


def _device(cfg: TrainConfig, local_rank: int) -> torch.device:
    want = cfg.run.device
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(want)


def _autocast(cfg: TrainConfig, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, use a grad scaler)."""
    p = cfg.run.precision
    if p == "auto":
        if device.type == "cuda":
            p = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            p = "bf16"
    if p == "fp32":
        return None, False
    if p == "bf16":
        return torch.bfloat16, False
    if p == "fp16":
        if device.type != "cuda":
            raise TrainingError("run.precision=fp16 needs CUDA; use bf16 or fp32 on CPU")
        return torch.float16, True
    raise TrainingError(f"run.precision must be auto, fp32, bf16 or fp16, got {p!r}")


def build_detector_for(cfg: TrainConfig):
    """The LAA-Net detector (spec + variant attached) the config trains, untrained."""
    from dataclasses import replace

    from .spec import laanet_spec

    spec = laanet_spec()
    variant = spec.variant(cfg.model.variant)
    if cfg.model.overrides:
        variant = replace(variant, config={**variant.config, **cfg.model.overrides})
        size = cfg.model.overrides.get("image_size")
        if size is not None and int(size) != variant.input.size:
            # A new input size is a new input contract: the crops the trainer makes and the
            # detector's declared size must agree (weights saved this way need a matching variant).
            variant = replace(variant, input=replace(variant.input, size=int(size)))
    from .model import build_detector

    det = build_detector(variant)
    det.spec, det.variant = spec, variant
    if cfg.model.init_weights:
        from dfbench.weights import read_weights_dir

        state, _ = read_weights_dir(cfg.model.init_weights)
        missing, unexpected = det.load_state_dict(state, strict=False)
        log.info("initialised from %s (%d missing, %d unexpected keys)", cfg.model.init_weights,
                 len(missing), len(unexpected))
    return det


def load_training_videos(cfg: TrainConfig, split: str):
    """Real face videos of ``split`` from ``cfg.data.source`` (see :class:`DataConfig`).

    ``data.val_split: holdout:F`` holds out a fraction F of the training split's videos (by key
    hash) as the source validation split, for datasets without an official one (the demo).
    """
    from .synthesis import dataset as ds

    d = cfg.data
    if d.val_split and d.val_split.startswith("holdout:") and split in (d.train_split, d.val_split):
        frac = float(d.val_split.partition(":")[2])
        train_v, val_v = ds.holdout(_load_split(cfg, d.train_split), frac)
        return val_v if split == d.val_split else train_v
    return _load_split(cfg, split)


def _load_split(cfg: TrainConfig, split: str):
    from .synthesis import dataset as ds

    src = cfg.data.source
    kind, _, arg = src.partition(":")
    if kind == "faces":
        n = int(arg or 4)
        return ds.portrait_videos(n, frames=max(cfg.data.frames_per_video, 4), size=cfg.data.crop_size,
                                  seed=0 if split == cfg.data.train_split else 1)
    if kind == "npz":
        return ds.load_npz_dir(Path(arg) / split if (Path(arg) / split).is_dir() else Path(arg))
    if kind == "dataset":
        return ds.dataset_videos(arg, split, size=cfg.data.crop_size,
                                 frames_per_video=cfg.data.extract_frames, data_root=cfg.data.data_root,
                                 cache_dir=cfg.data.cache_dir or str(Path(cfg.run.out_dir) / "cache"))
    raise TrainingError(f"unknown data.source {src!r}: use dataset:NAME, npz:DIR or faces:N")


# ---------------------------------------------------------------------------------------------
# The loop


def _micro_batches(batch: dict[str, torch.Tensor], n: int) -> Iterator[dict[str, torch.Tensor]]:
    """Split a reals-then-fakes batch into ``n`` micro-batches that keep each pair together."""
    b = batch["images"].shape[0] // 2
    bounds = np.linspace(0, b, n + 1).astype(int)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if hi <= lo:
            continue
        idx = torch.cat([torch.arange(lo, hi), torch.arange(b + lo, b + hi)])
        yield {k: v[idx] for k, v in batch.items()}


def cross_pairs(batch: dict[str, torch.Tensor], n_micro: int = 2) -> tuple[dict[str, torch.Tensor], int]:
    """Reorder a reals-then-fakes batch so that no micro-batch holds a real and its own fake.

    The fakes (and their targets) are rolled by half the pairs, and the number of micro-batches
    is raised until each holds at most that many pairs; :func:`_micro_batches` then keeps rows
    i and B+i together, which are now a real and the fake of another frame.
    Returns the reordered batch and the number of micro-batches to split it into.
    """
    b = batch["images"].shape[0] // 2
    half = b // 2
    if half < 1:
        raise TrainingError("run.cross_pairs needs at least 2 pairs per process batch; raise run.batch_size")
    order = torch.cat([torch.arange(b), b + (torch.arange(b) + half) % b])
    return {k: v[order] for k, v in batch.items()}, max(n_micro, -(-b // half))


class Trainer:
    """One training run; :func:`train` is the entry point."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = _device(cfg, self.local_rank)
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        if cfg.run.threads:
            torch.set_num_threads(int(cfg.run.threads))
        self.is_main = self.rank == 0
        self.out = Path(cfg.run.out_dir)
        self.ckpt_path = self.out / "checkpoints" / CHECKPOINT
        self.amp_dtype, use_scaler = _autocast(cfg, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None

        torch.manual_seed(cfg.run.seed)
        self.detector = build_detector_for(cfg)
        self.net: nn.Module = self.detector.net.to(self.device)
        if cfg.run.bn_momentum is not None:
            for m in self.net.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.momentum = float(cfg.run.bn_momentum)
        if self.world > 1 and cfg.run.sync_bn:
            convert_sync_bn(self.net)
        if self.world > 1:
            for t in self.net.state_dict().values():
                dist.broadcast(t, 0)
        self.image_size = int(self.detector.input_spec.size)
        self.mean = torch.tensor(self.detector.input_spec.mean, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(self.detector.input_spec.std, device=self.device).view(1, 3, 1, 1)
        self.params = [p for p in self.net.parameters()]
        base = torch.optim.Adam(self.params, lr=cfg.optim.base_lr, weight_decay=cfg.optim.weight_decay)
        self.opt: Any = SAM(base, cfg.optim.sam_rho) if cfg.optim.sam else base
        self.base_opt = base
        c = cfg.loss
        self.loss = LAANetLoss(c.hm_weight, c.cls_weight, c.cst_weight, c.focal_eps)
        self.epoch = 0
        self.step = 0
        self.history: list[dict] = []
        self.best: dict | None = None
        self.step_losses: list[dict] = []
        self.writer = None

    # -- data --------------------------------------------------------------------------------
    def _datasets(self) -> None:
        from .synthesis.dataset import PairDataset, make_generator

        cfg = self.cfg
        train_videos = load_training_videos(cfg, cfg.data.train_split)
        cache = cfg.data.cache_dir or str(self.out / "cache")
        gen = make_generator(cfg.data.method, train_videos, self.image_size, cfg.data.augment,
                             cfg.data.bi_neighbours, cfg.data.bi_candidates, cache, cfg.run.seed)
        self.train_set = PairDataset(train_videos, gen, cfg.data.frames_per_video, cfg.run.seed, True)
        self.val_set = None
        if cfg.data.val_split and self.is_main:
            try:
                val_videos = load_training_videos(cfg, cfg.data.val_split)
            except DfbenchError as e:
                log.warning("no validation split (%s): checkpoint selection falls back to the last epoch", e)
                val_videos = []
            if val_videos:
                vgen = make_generator(cfg.data.method, val_videos, self.image_size, False,
                                      cfg.data.bi_neighbours, cfg.data.bi_candidates, cache, cfg.run.seed + 1)
                self.val_set = PairDataset(val_videos, vgen, cfg.data.val_frames_per_video, cfg.run.seed + 1,
                                           False)
        log.info("training on %d videos (%d pairs/epoch), validating on %s", len(train_videos),
                 len(self.train_set), "none" if self.val_set is None else f"{len(self.val_set)} pairs")

    def _loader(self, dataset, batch_size: int, rank: int, world: int, max_steps: int | None):
        from torch.utils.data import DataLoader

        from .synthesis.dataset import RankBatchSampler, collate_pairs

        sampler = RankBatchSampler(len(dataset), batch_size, rank, world, max_steps)
        nw = int(self.cfg.data.num_workers)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_pairs, num_workers=nw,
                          persistent_workers=False, prefetch_factor=2 if nw else None)

    # -- steps -------------------------------------------------------------------------------
    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device, non_blocking=True).float() / 255.0
        return (x - self.mean) / self.std

    def _amp(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _forward_backward(self, micro: list[dict[str, torch.Tensor]], norm: LossNorm) -> dict[str, float]:
        """Accumulate the gradient of the global-batch loss over this process's micro-batches."""
        sums = {"hm": 0.0, "cls": 0.0, "cst": 0.0, "total": 0.0}
        for mb in micro:
            x = self._normalise(mb["images"])
            with self._amp():
                out = self.net(x)
            terms = self.loss(out, mb["heatmap"].to(self.device), mb["consistency"].to(self.device),
                              mb["labels"].to(self.device), norm)
            # × world: the gradient all-reduce averages over processes, the loss is a global sum.
            loss = terms["total"] * self.world
            if self.scaler is not None:
                loss = self.scaler.scale(loss)
            loss.backward()
            for k in sums:
                sums[k] += float(terms[k].detach())
        _all_reduce_grads(self.params, self.world)
        return sums

    def _grads_finite(self) -> bool:
        ok = all(torch.isfinite(p.grad).all() for p in self.params if p.grad is not None)
        return bool(_all_sum([0.0 if ok else 1.0], self.device)[0] == 0.0)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.cfg
        pos = float((batch["heatmap"] == 1.0).sum())
        n_img = float(batch["images"].shape[0])
        hw = float(batch["heatmap"][0].numel())
        pos, n_img = _all_sum([pos, n_img], self.device)
        norm = LossNorm(num_pos=pos, n_samples=n_img, n_pixels=n_img * hw)
        n_micro = max(1, cfg.run.accum_steps)
        if cfg.run.cross_pairs:
            batch, n_micro = cross_pairs(batch, n_micro)
        micro = list(_micro_batches(batch, n_micro))
        self.opt.zero_grad(set_to_none=True)
        terms = self._forward_backward(micro, norm)
        if isinstance(self.opt, SAM):
            if self.scaler is not None:  # unscale by hand: GradScaler allows one unscale_ per step
                inv = 1.0 / float(self.scaler.get_scale())
                for p in self.params:
                    if p.grad is not None:
                        p.grad.mul_(inv)
                if not self._grads_finite():
                    self.scaler.update(self.scaler.get_scale() / 2)
                    self.opt.zero_grad(set_to_none=True)
                    return {**terms, "skipped": 1.0}
            self.opt.first_step()
            self.opt.zero_grad(set_to_none=True)
            self._forward_backward(micro, norm)
            if self.scaler is not None:
                with torch.no_grad():
                    for p, e in self.opt._e.items():
                        p.sub_(e)
                    self.opt._e.clear()
                self.scaler.step(self.base_opt)
                self.scaler.update()
            else:
                self.opt.second_step()
        elif self.scaler is not None:
            self.scaler.step(self.base_opt)
            self.scaler.update()
        else:
            self.base_opt.step()
        return terms

    def _set_lr(self, epoch_float: float) -> float:
        lr = lr_at(epoch_float, self.cfg.optim, self.cfg.run.epochs)
        for g in self.base_opt.param_groups:
            g["lr"] = lr
        return lr

    def _set_freeze(self, epoch: int) -> None:
        frozen = epoch < self.cfg.run.freeze_backbone_epochs
        encoder = getattr(self.net, "encoder", None)
        if encoder is None:
            return
        for p in encoder.parameters():
            p.requires_grad_(not frozen)

    # -- validation --------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        from sklearn.metrics import roc_auc_score

        assert self.val_set is not None
        self.net.eval()
        logits, labels = [], []
        sums = {"hm": 0.0, "cls": 0.0, "cst": 0.0, "total": 0.0}
        n = 0
        loader = self._loader(self.val_set, self.cfg.run.batch_size, 0, 1, None)
        for batch in loader:
            x = self._normalise(batch["images"])
            with self._amp():
                out = self.net(x)
            terms = self.loss(out, batch["heatmap"].to(self.device), batch["consistency"].to(self.device),
                              batch["labels"].to(self.device))
            for k in sums:
                sums[k] += float(terms[k])
            n += 1
            logits.append(out["cls"].float().reshape(-1).cpu())
            labels.append(batch["labels"])
        self.net.train()
        if n == 0:
            return {}
        y = torch.cat(labels).numpy()
        s = torch.cat(logits).numpy()
        auc = float(roc_auc_score(y, s)) if len(np.unique(y)) == 2 else float("nan")
        acc = float(((s > 0) == (y > 0.5)).mean())
        return {"val_auc": auc, "val_acc": acc, **{f"val_loss_{k}": v / n for k, v in sums.items()},
                "val_loss": sums["total"] / n}

    # -- checkpoints -------------------------------------------------------------------------
    def _payload(self) -> dict:
        return {
            "format": "dfbench-laanet-train/1",
            "epoch": self.epoch,
            "step": self.step,
            "model": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
            "optimizer": self.base_opt.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else {},
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
            "best": self.best,
            "config": self.cfg.to_dict(),
            "world_size": self.world,
        }

    def resume(self) -> bool:
        if not self.ckpt_path.exists():
            return False
        ck = load_torch_checkpoint(self.ckpt_path)
        self.net.load_state_dict(ck["model"])
        self.base_opt.load_state_dict(ck["optimizer"])
        if self.scaler is not None and ck.get("scaler"):
            self.scaler.load_state_dict(ck["scaler"])
        torch.set_rng_state(ck["torch_rng"])
        self.epoch, self.step = int(ck["epoch"]), int(ck["step"])
        self.history, self.best = list(ck.get("history") or []), ck.get("best")
        log.info("resumed from %s at epoch %d (step %d)", self.ckpt_path, self.epoch, self.step)
        return True

    def _save_best(self, metrics: dict) -> None:
        self.best = {"epoch": self.epoch, "val_auc": metrics.get("val_auc", float("nan")),
                     "val_loss": metrics.get("val_loss", float("nan")), "rule": SELECTION_RULE,
                     "split": f"{self.cfg.data.source}:{self.cfg.data.val_split}"}
        det = self.detector
        det.net.load_state_dict({k: v.detach().cpu() for k, v in self.net.state_dict().items()})
        card = {
            "trained_on": f"{self.cfg.data.source} ({self.cfg.data.train_split}), "
                          f"{self.cfg.data.method.upper()} pseudo-fakes",
            "selection": f"epoch {self.epoch}: {SELECTION_RULE} = {self.best['val_auc']:.4f}",
            "license": "Apache-2.0",
            "description": f"LAA-Net {det.variant.name} trained with dfbench laanet train",
        }
        save_weights(det, self.out / "best", extra_config={"card": card, "selection": self.best,
                                                           "train_config": self.cfg.to_dict()})

    # -- main loop ---------------------------------------------------------------------------
    def run(self, resume: bool = True, stop_after_epochs: int | None = None) -> TrainResult:
        cfg = self.cfg
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            cfg.save(self.out / "config.yaml")
        if resume:
            self.resume()
        self._datasets()
        if self.is_main and cfg.run.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(self.out / "tb"), purge_step=self.step)
            except ImportError:  # pragma: no cover - tensorboard is a test dependency
                log.warning("tensorboard is not installed: no TensorBoard logs")
        self.net.train()
        end_epoch = cfg.run.epochs if stop_after_epochs is None else min(cfg.run.epochs,
                                                                         self.epoch + stop_after_epochs)
        while self.epoch < end_epoch:
            self._run_epoch()
        if self.writer is not None:
            self.writer.close()
        best_dir = str(self.out / "best") if (self.out / "best").exists() else None
        return TrainResult(self.is_main, self.epoch, self.step, self.history, self.best, best_dir,
                           self.step_losses)

    def _run_epoch(self) -> None:
        cfg = self.cfg
        epoch = self.epoch
        self._set_freeze(epoch)
        self.train_set.set_epoch(epoch)
        loader = self._loader(self.train_set, cfg.run.batch_size, self.rank, self.world, cfg.run.steps_per_epoch)
        n_steps = len(loader)
        if n_steps == 0:
            raise TrainingError(f"{len(self.train_set)} pairs per epoch cannot fill one step of "
                                f"{cfg.run.batch_size} pairs × {self.world} process(es); lower "
                                f"run.batch_size or raise data.frames_per_video")
        lr = self._set_lr(float(epoch))
        t0 = time.perf_counter()
        sums: dict[str, float] = {}
        from tqdm.auto import tqdm

        # A bar per epoch on the main process: a CPU run can take minutes per epoch.
        bar = tqdm(total=n_steps, desc=f"epoch {epoch + 1}/{cfg.run.epochs}", unit="step", leave=False,
                   disable=not self.is_main, dynamic_ncols=True)
        for i, batch in enumerate(loader):
            if cfg.optim.per_step:
                lr = self._set_lr(epoch + i / n_steps)
            terms = self.train_step(batch)
            if not math.isfinite(terms["total"]):
                raise TrainingError(f"loss is {terms['total']} at epoch {epoch} step {i}; lower "
                                    f"optim.base_lr or use run.precision=fp32")
            self.step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{terms['total']:.4f}", refresh=False)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v
            if self.is_main:
                self.step_losses.append({"step": self.step, "lr": lr, **terms})
                if self.writer is not None and self.step % max(1, cfg.run.log_every) == 0:
                    for k, v in terms.items():
                        self.writer.add_scalar(f"train/loss_{k}", v, self.step)
                    self.writer.add_scalar("train/lr", lr, self.step)
        bar.close()
        dt = time.perf_counter() - t0
        self.epoch = epoch + 1
        record = {"epoch": self.epoch, "steps": n_steps, "lr": lr,
                  "images_per_s": n_steps * cfg.run.batch_size * 2 * self.world / max(dt, 1e-9),
                  **{f"train_loss_{k}": v / n_steps for k, v in sums.items()}}
        if self.is_main:
            metrics = self.validate() if self.val_set is not None else {}
            record.update(metrics)
            better = self.best is None or not metrics or (
                metrics["val_auc"] > self.best["val_auc"]
                or (metrics["val_auc"] == self.best["val_auc"] and metrics["val_loss"] < self.best["val_loss"]))
            self.history.append(record)
            if better:
                self._save_best(metrics)
            _save_checkpoint(self.ckpt_path, self._payload())
            if self.writer is not None:
                for k, v in record.items():
                    if k != "epoch" and isinstance(v, float):
                        self.writer.add_scalar(f"epoch/{k}", v, self.epoch)
                self.writer.flush()
            log.info("epoch %d: %s", self.epoch, {k: round(v, 4) if isinstance(v, float) else v
                                                   for k, v in record.items()})
        else:
            self.history.append(record)
        if _dist_on():
            dist.barrier()


def train(cfg: TrainConfig, resume: bool = True, stop_after_epochs: int | None = None) -> TrainResult:
    """Train LAA-Net as ``cfg`` says; under ``torchrun`` every process calls this."""
    trainer = Trainer(cfg)
    try:
        return trainer.run(resume=resume, stop_after_epochs=stop_after_epochs)
    finally:
        if _dist_on():
            dist.destroy_process_group()


__all__ = ["SAM", "TrainResult", "Trainer", "TrainingError", "convert_sync_bn", "lr_at", "train"]
