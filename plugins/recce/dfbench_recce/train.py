"""Training loop for RECCE and recce_gf (``dfbench recce train --config CFG.yaml``).

Recipe of the official code (protocols.md §5): BCE + 0.1 * reconstruction (real only) + 0.1 *
metric loss, Adam lr 2e-4 / wd 1e-5, StepLR, tiny white noise on half the batch, horizontal flips.
Differences, on purpose:

- Early stopping and checkpoint selection read the *validation* split only (the official config
  validates on the test split); the selection rule is recorded in the checkpoint and in the weights'
  ``config.json``.
- Exact resume: a checkpoint (model, optimiser, scheduler, scaler, early-stopping state, history)
  is written atomically after every epoch, and every source of randomness is re-seeded from
  ``(seed, epoch, rank)`` at the start of an epoch, so a run killed at any point and resumed ends
  with the same weights as an uninterrupted one.
- Optional geometric / colour jitter (``data.augment``, :mod:`dfbench_recce.augment`), off by
  default; the demo configs turn it on because two dozen training videos are otherwise memorised.
- A final batch of one is trained, not dropped: BatchNorm layers use their running statistics for
  that step (batch statistics of a single sample are degenerate and can raise on 1x1 maps).
- DDP via ``torchrun`` (gloo on CPU, NCCL on CUDA); rank 0 validates and writes files.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from dfbench.weights import atomic_write_json, save_weights

from .augment import augment_batch
from .config import TrainConfig
from .data import collate, open_source, split_by_group
from .losses import RecceLoss
from .model import RecceDetector, RecceNet, build_net

log = logging.getLogger(__name__)
CHECKPOINT = "last.pt"


class _TrainForward(nn.Module):
    """Routes ``forward`` to ``forward_train`` so DDP / torch.compile wrap the training graph."""

    def __init__(self, net: RecceNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        return self.net.forward_train(x)


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


def _dist_info() -> tuple[int, int, bool]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, world > 1


def _device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if torch.cuda.is_available() \
            else torch.device("cpu")
    return torch.device(cfg.device)


def _autocast(cfg: TrainConfig, device: torch.device):
    if cfg.precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if cfg.precision == "fp16":
        return torch.autocast(device.type, dtype=torch.float16)
    return contextlib.nullcontext()


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


def _make_optimizer(cfg: TrainConfig, net: nn.Module) -> torch.optim.Optimizer:
    kwargs: dict[str, Any] = {"lr": cfg.optim.lr, "weight_decay": cfg.optim.weight_decay}
    if cfg.optim.fused:
        kwargs["fused"] = True
    cls = torch.optim.Adam if cfg.optim.name == "adam" else torch.optim.AdamW
    return cls([p for p in net.parameters() if p.requires_grad], **kwargs)


@torch.no_grad()
def evaluate(net: RecceNet, loader: DataLoader, device: torch.device, cfg: TrainConfig) -> dict[str, float]:
    """Validation metrics: frame AUC and mean BCE on the loader (model put in eval mode)."""
    from sklearn.metrics import roc_auc_score

    was_training = net.training
    net.eval()
    scores, labels, bce = [], [], 0.0
    for x, y in loader:
        xn = x.to(device).float().div_(127.5).sub_(1.0)
        with _autocast(cfg, device):
            logits = net(xn).float().reshape(-1)
        bce += float(nn.functional.binary_cross_entropy_with_logits(logits, y.to(device).float(), reduction="sum"))
        scores.append(logits.cpu())
        labels.append(y)
    net.train(was_training)
    s, y = torch.cat(scores).numpy(), torch.cat(labels).numpy()
    auc = float(roc_auc_score(y, s)) if len(set(y.tolist())) == 2 else float("nan")
    return {"auc": auc, "loss": bce / max(1, len(y)), "n": int(len(y))}


def _is_better(value: float, best: float | None, cfg: TrainConfig) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    delta = cfg.early_stopping.min_delta
    return value > best + delta if cfg.early_stopping.metric == "auc" else value < best - delta


def _datasets(cfg: TrainConfig, size: int, train_dataset: Dataset | None, val_dataset: Dataset | None):
    if train_dataset is None:
        train_dataset = open_source(cfg.data.train, cfg.data.train_split, size, cfg.data.options)
    if val_dataset is None:
        if cfg.data.val_fraction > 0:
            train_dataset, val_dataset = split_by_group(train_dataset, cfg.data.val_fraction, cfg.seed)
        else:
            source = cfg.data.val or cfg.data.train
            val_dataset = open_source(source, cfg.data.val_split, size, cfg.data.options)
    return train_dataset, val_dataset


def train(cfg: TrainConfig, resume: bool = True, train_dataset: Dataset | None = None,
          val_dataset: Dataset | None = None) -> dict[str, Any]:
    """Train per ``cfg``; returns ``{best_epoch, best_value, weights_dir, history}``.

    ``train_dataset`` / ``val_dataset`` override the config's data sources (Python API, tests).
    Writes ``out_dir/last.pt`` (resumable checkpoint) and ``out_dir/best/`` (dfbench weights of the
    epoch selected on the validation split).
    """
    from .spec import SPEC

    cfg.validate()
    rank, world, distributed = _dist_info()
    device = _device(cfg)
    if distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = cfg.tf32
        torch.backends.cudnn.allow_tf32 = cfg.tf32
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    variant = SPEC.variant(cfg.variant)
    size = variant.input.size

    torch.manual_seed(cfg.seed)
    net = build_net(dict(variant.config))
    if cfg.init:
        _init_weights(net, cfg.init)
    net.to(device)
    if cfg.channels_last:
        net.to(memory_format=torch.channels_last)
    optimizer = _make_optimizer(cfg, net)
    scheduler = (torch.optim.lr_scheduler.StepLR(optimizer, cfg.scheduler.step_size, cfg.scheduler.gamma)
                 if cfg.scheduler.name == "step" else None)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16" and device.type == "cuda")
    criterion = RecceLoss(cfg.lambda_recons, cfg.lambda_metric, cfg.recons_kind)

    state: dict[str, Any] = {"epoch": -1, "best_value": None, "best_epoch": -1, "bad_epochs": 0,
                             "stopped": False, "history": []}
    ckpt_path = out / CHECKPOINT
    if resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        net.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt.get("scheduler"):
            scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        state = ckpt["state"]
        log.info("resumed from %s after epoch %d", ckpt_path, state["epoch"])

    train_ds, val_ds = _datasets(cfg, size, train_dataset, val_dataset)
    sampler = DistributedSampler(train_ds, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed,
                                 drop_last=False)
    loader = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.data.num_workers,
                        collate_fn=collate(size), drop_last=False)
    val_loader = DataLoader(val_ds, batch_size=cfg.eval_batch_size, shuffle=False,
                            num_workers=cfg.data.num_workers, collate_fn=collate(size))

    model: nn.Module = _TrainForward(net)
    if distributed:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        model = torch.compile(model)

    aug = cfg.data.augment
    augmenting = aug.scale > 0 or aug.shift > 0 or aug.colour > 0
    for epoch in range(state["epoch"] + 1, cfg.epochs):
        if state["stopped"]:
            break
        # Every random draw of the epoch (noise, dropout, flips, order) derives from these seeds.
        torch.manual_seed(cfg.seed * 100003 + epoch * 1009 + rank)
        flip_gen = torch.Generator().manual_seed(cfg.seed * 7919 + epoch * 31 + rank)
        sampler.set_epoch(epoch)
        net.train()
        sums: dict[str, float] = {}
        n_seen, t0 = 0, time.time()
        for step, (x, y) in enumerate(loader):
            if cfg.max_steps_per_epoch and step >= cfg.max_steps_per_epoch:
                break
            if cfg.data.hflip > 0:
                flip = torch.rand(x.shape[0], generator=flip_gen) < cfg.data.hflip
                x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            if augmenting:
                x = augment_batch(x, cfg.data.augment, flip_gen)
            x = x.to(device, non_blocking=True).float().div_(127.5).sub_(1.0)
            y = y.to(device)
            if cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with bn_running_stats_if_single(net, x.shape[0]), _autocast(cfg, device):
                outputs = model(x)
                terms = criterion(outputs, x, y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(terms["loss"]).backward()
            scaler.step(optimizer)
            scaler.update()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) * x.shape[0]
            n_seen += x.shape[0]
            if cfg.log_every and step % cfg.log_every == 0 and rank == 0:
                log.info("epoch %d step %d loss %.4f (bce %.4f recons %.4f metric %.4f)", epoch, step,
                         *(float(terms[k].detach()) for k in ("loss", "bce", "recons", "metric")))
        if scheduler is not None:
            scheduler.step()
        record: dict[str, Any] = {"epoch": epoch, "train": {k: v / max(1, n_seen) for k, v in sums.items()},
                                  "images_per_s": n_seen * world / max(1e-9, time.time() - t0)}

        decision = [None]
        if rank == 0:
            val = evaluate(net, val_loader, device, cfg)
            record["val"] = val
            value = val[cfg.early_stopping.metric]
            if _is_better(value, state["best_value"], cfg):
                state.update(best_value=value, best_epoch=epoch, bad_epochs=0)
                _save_best(net, variant, cfg, state, out)
            else:
                state["bad_epochs"] += 1
            state["stopped"] = state["bad_epochs"] >= cfg.early_stopping.patience
            state["epoch"] = epoch
            state["history"].append(record)
            _save_checkpoint(ckpt_path, net, optimizer, scheduler, scaler, state, cfg)
            log.info("epoch %d: train %s val %s", epoch, record["train"], val)
            decision = [state["stopped"]]
        if distributed:
            dist.broadcast_object_list(decision, src=0)
            state["stopped"], state["epoch"] = bool(decision[0]), epoch
    if distributed:
        dist.barrier()
    return {"best_epoch": state["best_epoch"], "best_value": state["best_value"] if state["best_value"] is not None
            else float("nan"), "weights_dir": str(out / "best"), "history": state["history"]}


def _save_checkpoint(path: Path, net, optimizer, scheduler, scaler, state, cfg: TrainConfig) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"model": net.state_dict(), "optimizer": optimizer.state_dict(),
               "scheduler": scheduler.state_dict() if scheduler is not None else {},
               "scaler": scaler.state_dict(), "state": state, "config": cfg.to_dict()}
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # a kill during the save leaves the previous checkpoint intact


def _save_best(net: RecceNet, variant, cfg: TrainConfig, state: dict, out: Path) -> None:
    from .spec import SPEC

    det = RecceDetector(net, variant.input)
    det.spec, det.variant = SPEC, variant
    selection = {"split": cfg.data.val_split if not cfg.data.val_fraction else
                 f"{cfg.data.train_split} (held-out {cfg.data.val_fraction:.0%} of videos)",
                 "metric": cfg.early_stopping.metric, "best_epoch": state["best_epoch"],
                 "value": state["best_value"]}
    was = net.training
    save_weights(det, out / "best", extra_config={"selection": selection, "training": cfg.to_dict()})
    net.train(was)
    atomic_write_json(out / "selection.json", selection)


def export_weights(src: str | Path, dst: str | Path, dtype: str = "bfloat16", card: dict | None = None,
                   tag: str | None = None) -> Path:
    """Re-save trained weights (``out_dir/best``) for shipping, e.g. as bfloat16 to halve the size.

    The harness loads them into a float32 network (``load_state_dict`` casts), so only storage
    precision changes; ``config.json`` records both and pins the new file's sha256. ``tag`` is the
    weights tag :func:`dfbench_recce.spec.packaged_weights` reports (default: the directory name).
    The training record keeps only the run directory's name: an absolute path of the machine that
    trained says nothing to a user and leaks local layout into a shipped file.
    """
    import json

    from safetensors.torch import save_file

    from dfbench.weights import CONFIG_FILE, WEIGHTS_FILE, read_weights_dir, sha256_file

    state, config = read_weights_dir(src)
    torch_dtype = getattr(torch, dtype)
    out = Path(dst)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: (v.to(torch_dtype) if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    tmp = out / f".{WEIGHTS_FILE}.tmp{os.getpid()}"
    save_file(state, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, out / WEIGHTS_FILE)
    os.chmod(out / WEIGHTS_FILE, 0o644)  # safetensors writes 0600; shipped files must be readable
    config.update({"dtype": "float32", "stored_dtype": dtype, "sha256": sha256_file(out / WEIGHTS_FILE)})
    training = config.get("training")
    if isinstance(training, dict) and training.get("out_dir"):
        training["out_dir"] = Path(training["out_dir"]).name
    if tag:
        config["tag"] = tag
    if card:
        config["card"] = card
    atomic_write_json(out / CONFIG_FILE, config)
    log.info("exported %s -> %s (%s, %s)", src, out, dtype, json.dumps(config.get("selection", {})))
    return out
