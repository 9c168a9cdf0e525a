"""Fine-tuning LipForensics on a prepared dataset (the official repository ships no training code).

By default, as in the paper, the LRW-pretrained 3D front end and ResNet-18 trunk are frozen (BN
statistics too) and only the temporal back end — the MS-TCN, the head and, for the TA variant, the
attention — is trained with Adam and a binary cross-entropy on clip logits. ``freeze: false``
trains the whole network instead: the explicit choice when no lip-reading trunk exists (the demo
weights are trained that way from scratch), recorded in the weights' ``training.trained``.
Augmentation (random crops, flips, time offsets; :mod:`.augment`) applies to training batches only.

Properties a user relies on:

- **resume after kill**: ``OUT_DIR/last.pt`` (written atomically at every epoch end, and every
  ``checkpoint_every_steps`` steps) holds model, optimiser, scheduler, scaler, RNG states and the
  position in the epoch; the batch order is a pure function of ``(seed, epoch)``, so a resumed run
  reproduces the uninterrupted one exactly.
- **selection on validation only**: after each epoch the validation split is scored (video-level
  AUC from mean clip logits, as evaluation does, or loss; equal AUCs are broken by the lower loss);
  the best epoch is written to ``OUT_DIR/best`` (dfbench weights) with the rule recorded in its
  config and in ``summary.json``.
- **precision**: bf16 autocast on CPU (AMX), fp16 AMP with a grad scaler on CUDA, or fp32.
- **DDP**: under ``torchrun`` each rank trains on its shard of the batch order (gloo on CPU, NCCL
  on CUDA); rank 0 validates and writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dfbench.weights import atomic_write_json, read_weights_dir, resolve_source, save_weights

from .augment import ClipSampler, centre_crop
from .config import TrainConfig, load_config
from .model import LipForensicsDetector, trainable_parameters

log = logging.getLogger(__name__)

CHECKPOINT = "last.pt"


# --------------------------------------------------------------------------------------------
# Setup helpers
# --------------------------------------------------------------------------------------------
class _Dist:
    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1
        if torch.cuda.is_available():
            self.device = torch.device("cuda", self.local_rank)
        else:
            self.device = torch.device("cpu")
        if self.enabled and not torch.distributed.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend=backend)
        self.is_main = self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.enabled and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _autocast(precision: str, device: torch.device):
    if precision == "auto":
        precision = "amp" if device.type == "cuda" else "bf16"
    if precision == "bf16":
        return precision, torch.autocast(device.type, dtype=torch.bfloat16)
    if precision == "amp":
        if device.type != "cuda":
            raise ValueError("precision 'amp' (fp16 + grad scaler) needs CUDA; use 'bf16' on CPU")
        return precision, torch.autocast("cuda", dtype=torch.float16)
    return precision, contextlib.nullcontext()


def load_init_weights(det: LipForensicsDetector, source: str) -> dict[str, Any]:
    """Load starting weights: an official ``.pth`` or a dfbench weights directory.

    The TA variant starts from mean-consensus weights with its attention reset to uniform, so at
    step 0 it scores exactly like the model it starts from.
    """
    path = resolve_source(source)
    if path.suffix in (".pth", ".pt", ".tar", ".ckpt"):
        from .convert import from_official

        net = from_official(path, consensus=det.net.cfg.consensus)
        det.net.load_state_dict(net.state_dict())
        return {"init": str(source), "format": "official"}
    state, config = read_weights_dir(path, expected_sha256=None)
    missing, unexpected = det.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("net.tcn.attention.") for k in missing):
        raise ValueError(
            f"{source} does not fit variant: missing {missing[:8]}, unexpected {unexpected[:8]}"
        )
    if missing and det.net.tcn.attention is not None:
        det.net.tcn.attention.reset_to_uniform()
    return {"init": str(source), "format": "dfbench", "variant": config.get("variant")}


class _Trainable(nn.Module):
    """What the optimiser sees: the frozen part runs without autograd (and in eval mode)."""

    def __init__(self, net, freeze: bool, from_features: bool, channels_last: bool = False) -> None:
        super().__init__()
        self.net, self.freeze, self.from_features = net, freeze, from_features
        self.channels_last = channels_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.from_features:
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last_3d)
            if self.freeze:
                with torch.no_grad():
                    x = self.net.frame_features(x)
            else:
                x = self.net.frame_features(x)
        return self.net.tcn(x)[:, 0]

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze:
            for m in self.net.frozen_modules:
                m.eval()
        return self


def _batch_order(n: int, seed: int, epoch: int, world: int, rank: int) -> list[int]:
    """Shuffled indices of this rank for ``epoch``; a pure function, so resume replays it.

    Like ``DistributedSampler``: the permutation is padded to a multiple of ``world`` and strided.
    """
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(n, generator=g).tolist()
    if world > 1:
        order += order[: (-len(order)) % world]
        order = order[rank::world]
    return order


@torch.no_grad()
def _features(
    net, ds, batch: int, device, precision: str, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Trunk features ``[N, T, C]`` (float32) and labels for every clip of ``ds`` (centre crops)."""
    _, cast = _autocast(precision, device)
    feats, labels = [], []
    net.eval()
    for start in range(0, len(ds), batch):
        xs, ys = zip(*(ds[i] for i in range(start, min(start + batch, len(ds)))), strict=True)
        x = _normalise(centre_crop(torch.stack(list(xs)), size).to(device))
        with cast:
            feats.append(net.frame_features(x).float().cpu())
        labels += list(ys)
    return torch.cat(feats), torch.tensor(labels, dtype=torch.float32)


def _normalise(x: torch.Tensor) -> torch.Tensor:
    """uint8 ``[B, T, 1, H, W]`` -> normalised float ``[B, 1, T, H, W]`` (official layout)."""
    from .spec import MEAN, STD

    return ((x.float() / 255.0 - MEAN[0]) / STD[0]).transpose(1, 2).contiguous()


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------
def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    v, internal, gauss = state["python"]
    random.setstate((v, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(payload, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)  # atomic: a kill leaves the previous checkpoint intact


def _load_checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def evaluate_clips(
    model: _Trainable,
    inputs,
    labels: torch.Tensor,
    keys: list[str] | None,
    batch: int,
    device,
    cast,
) -> dict[str, float]:
    """Validation loss (clip level) and video-level AUC of mean clip logits."""
    from sklearn.metrics import roc_auc_score

    model.eval()
    logits = []
    for start in range(0, len(labels), batch):
        x = inputs(start, min(start + batch, len(labels))).to(device)
        with cast:
            logits.append(model(x).float().cpu())
    z = torch.cat(logits)
    loss = float(F.binary_cross_entropy_with_logits(z, labels))
    if keys:
        per: dict[str, list[float]] = {}
        lab: dict[str, float] = {}
        for k, v, y in zip(keys, z.tolist(), labels.tolist(), strict=True):
            per.setdefault(k, []).append(v)
            lab[k] = y
        scores = [sum(v) / len(v) for v in per.values()]
        ys = [lab[k] for k in per]
    else:
        scores, ys = z.tolist(), labels.tolist()
    auc = float(roc_auc_score(ys, scores)) if len(set(ys)) == 2 else float("nan")
    return {"val_loss": loss, "val_auc": auc, "val_videos": len(ys)}


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------
def train(
    cfg: TrainConfig,
    *,
    train_data: Any = None,
    val_data: Any = None,
    on_step: Callable[[int, float], None] | None = None,
) -> dict[str, Any]:
    """Fine-tune ``cfg.variant``; returns the run summary (also written to ``OUT_DIR/summary.json``).

    ``train_data``/``val_data`` (clip datasets, see :mod:`.data`) override ``cfg.data``;
    ``on_step(step, loss)`` is called after every optimiser step (progress bars, tests).
    """
    from .spec import SPEC

    dist = _Dist()
    device = dist.device
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    if dist.is_main:
        out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed + dist.rank)
    random.seed(cfg.seed + dist.rank)
    np.random.seed(cfg.seed + dist.rank)

    det: LipForensicsDetector = SPEC.build(cfg.variant)
    init_info = load_init_weights(det, cfg.init) if cfg.init else {"init": None}
    net = det.net.to(device)
    if cfg.channels_last:
        net.frontend3D.to(memory_format=torch.channels_last_3d)
        net.trunk.to(memory_format=torch.channels_last)
    size = det.input_spec.size
    # With random crops, prepare crops `augment.crop` px larger than the model input (96 for 88).
    prep_spec = dataclasses.replace(det.input_spec, size=size + cfg.augment.crop)
    if cfg.freeze:
        for m in net.frozen_modules:
            m.requires_grad_(False)
    params = trainable_parameters(net) if cfg.freeze else list(net.parameters())

    # -- data --------------------------------------------------------------------------------
    if train_data is None or val_data is None:
        from dfbench.specs import load_object

        factory = load_object(cfg.data.factory)
        cache = out / "clips"
        for turn in ("main", "others"):  # rank 0 crops and caches first; the others read its cache
            if dist.is_main == (turn == "main"):
                if train_data is None:
                    train_data = factory(cfg.data, cfg.data.train_split, prep_spec, cache)
                if val_data is None and cfg.data.val_fraction > 0:
                    from .data import holdout_split

                    train_data, val_data = holdout_split(
                        train_data, cfg.data.val_fraction, cfg.seed
                    )
                elif val_data is None:
                    val_data = factory(cfg.data, cfg.data.val_split, prep_spec, cache)
            dist.barrier()
    precision, cast = _autocast(cfg.precision, device)
    augmenting = cfg.augment.enabled
    use_features = cfg.freeze and cfg.cache_features and not augmenting
    if use_features:
        t0 = time.perf_counter()
        train_x, train_y = _features(net, train_data, cfg.batch_size, device, precision, size)
        val_x, val_y = _features(net, val_data, cfg.batch_size, device, precision, size)
        log.info(
            "trunk features for %d + %d clips in %.1fs",
            len(train_y),
            len(val_y),
            time.perf_counter() - t0,
        )

        def train_inputs(idx, epoch, batch):
            return train_x[idx]

        def val_inputs(a, b):
            return val_x[a:b]
    else:
        train_y = torch.tensor(
            [int(train_data[i][1]) for i in range(len(train_data))], dtype=torch.float32
        )
        val_y = torch.tensor(
            [int(val_data[i][1]) for i in range(len(val_data))], dtype=torch.float32
        )

        sampler = ClipSampler(train_data, size, cfg.augment) if augmenting else None

        def train_inputs(idx, epoch, batch):
            if sampler is not None:
                return _normalise(sampler.train_batch(idx, (cfg.seed, epoch, batch)))
            return _normalise(centre_crop(torch.stack([train_data[i][0] for i in idx]), size))

        def val_inputs(a, b):
            return _normalise(centre_crop(torch.stack([val_data[i][0] for i in range(a, b)]), size))

    val_keys = list(getattr(val_data, "video_keys", []) or [])

    model = _Trainable(net, cfg.freeze, use_features, cfg.channels_last)
    ddp_model: nn.Module = model
    if dist.enabled:
        ddp_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    # -- optimiser and schedule ----------------------------------------------------------------
    o = cfg.optim
    opt = torch.optim.Adam(params, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)
    n_train = len(train_y)
    steps_per_epoch = math.ceil(math.ceil(n_train / dist.world) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs

    def lr_factor(step: int) -> float:
        if o.warmup_steps and step < o.warmup_steps:
            return (step + 1) / o.warmup_steps
        if o.scheduler == "constant":
            return 1.0
        span = max(1, total - o.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - o.warmup_steps) / span)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "amp")

    state: dict[str, Any] = {"epoch": 0, "step": 0, "step_in_epoch": 0, "best": None, "history": []}
    ckpt_path = out / CHECKPOINT
    if cfg.resume and ckpt_path.exists():
        ck = _load_checkpoint(ckpt_path)
        det.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        scaler.load_state_dict(ck["scaler"])
        _set_rng_state(ck["rng"][dist.rank] if dist.rank < len(ck["rng"]) else ck["rng"][0])
        state = {k: ck[k] for k in state}
        log.info("resumed from %s at epoch %d step %d", ckpt_path, state["epoch"], state["step"])

    def checkpoint() -> None:
        rngs = [_rng_state()]
        if dist.enabled:
            gathered: list[Any] = [None] * dist.world
            torch.distributed.all_gather_object(gathered, rngs[0])
            rngs = gathered
        if dist.is_main:
            _save_checkpoint(
                ckpt_path,
                {
                    "model": det.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "scaler": scaler.state_dict(),
                    "rng": rngs,
                    "config": cfg.to_dict(),
                    **state,
                },
            )

    maximise = cfg.select_metric == "val_auc"
    tie_note = " (ties: lower val_loss)" if maximise else ""
    trained_note = (
        "temporal back end only (front end + trunk frozen, as in the paper); "
        + ("from " + str(cfg.init) if cfg.init else "frozen part at its seeded random init")
        if cfg.freeze
        else "whole network (front end + trunk + temporal back end); "
        + ("from " + str(cfg.init) if cfg.init else "from scratch (seeded random init)")
    )
    split_name = (
        f"{cfg.data.dataset}/{cfg.data.train_split}[held-out {cfg.data.val_fraction:.0%} of videos]"
        if cfg.data.val_fraction > 0
        else f"{cfg.data.dataset}/{cfg.data.val_split}"
    )
    t_start = time.perf_counter()
    while state["epoch"] < cfg.epochs:
        epoch = state["epoch"]
        order = _batch_order(n_train, cfg.seed, epoch, dist.world, dist.rank)
        batches = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
        ddp_model.train()
        running, seen = 0.0, 0
        for b in range(state["step_in_epoch"], len(batches)):
            idx = batches[b]
            x, y = train_inputs(idx, epoch, b).to(device), train_y[idx].to(device)
            with cast:
                z = ddp_model(x)
            loss = F.binary_cross_entropy_with_logits(z.float(), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if o.grad_clip:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(params, o.grad_clip)
            scaler.step(opt)
            scaler.update()
            sched.step()
            state["step"] += 1
            state["step_in_epoch"] = b + 1
            loss_value = loss.item()
            running += loss_value * len(idx)
            seen += len(idx)
            if on_step is not None:
                on_step(state["step"], loss_value)
            if cfg.log_every and state["step"] % cfg.log_every == 0 and dist.is_main:
                log.info(
                    "epoch %d step %d loss %.4f lr %.2e",
                    epoch,
                    state["step"],
                    loss_value,
                    sched.get_last_lr()[0],
                )
            if (
                cfg.checkpoint_every_steps
                and state["step"] % cfg.checkpoint_every_steps == 0
                and state["step_in_epoch"] < len(batches)
            ):
                checkpoint()

        # -- validation and selection (rank 0 decides; the split is validation only) ------------
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "step": state["step"],
            "train_loss": running / max(1, seen) if seen else None,
        }
        if dist.is_main:
            record.update(
                evaluate_clips(model, val_inputs, val_y, val_keys, cfg.batch_size, device, cast)
            )
            value = record[cfg.select_metric]
            best = state["best"]
            better = best is None or (
                not math.isnan(value)
                and (
                    math.isnan(best["value"])
                    or (value > best["value"] if maximise else value < best["value"])
                    # A few validation videos make AUC coarse (steps of 1/16 for 4 + 4): among
                    # equal AUCs the better-calibrated epoch (lower loss) wins.
                    or (
                        maximise
                        and value == best["value"]
                        and record["val_loss"] < best.get("val_loss", math.inf)
                    )
                )
            )
            if better:
                state["best"] = {
                    "metric": cfg.select_metric,
                    "value": value,
                    "val_loss": record["val_loss"],
                    "epoch": epoch + 1,
                    "split": split_name,
                    "step": state["step"],
                }
                save_weights(
                    det,
                    out / "best",
                    extra_config={
                        "training": {
                            "init": init_info,
                            "variant": cfg.variant,
                            "freeze": cfg.freeze,
                            "trained": trained_note,
                            "precision": precision,
                            "epochs": cfg.epochs,
                            "batch_size": cfg.batch_size,
                            "seed": cfg.seed,
                            "optim": cfg.to_dict()["optim"],
                            "augment": cfg.to_dict()["augment"],
                            "data": cfg.to_dict()["data"],
                        },
                        "selection": {
                            **state["best"],
                            "rule": f"best {cfg.select_metric} on the validation split "
                            f"{split_name}{tie_note}; no test data was read",
                        },
                    },
                )
            log.info("epoch %d: %s", epoch + 1, json.dumps(record))
        state["history"].append(record)
        state["epoch"] = epoch + 1
        state["step_in_epoch"] = 0
        checkpoint()
        dist.barrier()

    summary = {
        "trained": trained_note,
        "config": cfg.to_dict(),
        "selection": state["best"],
        "history": state["history"],
        "best_dir": str(out / "best"),
        "steps": state["step"],
        "precision": precision,
        "world_size": dist.world,
        "train_clips": n_train,
        "val_clips": len(val_y),
        "seconds": time.perf_counter() - t_start,
        "data_stats": {
            "train": getattr(train_data, "stats", {}),
            "val": getattr(val_data, "stats", {}),
        },
    }
    if dist.is_main:
        atomic_write_json(out / "summary.json", summary)
    dist.close()
    return summary


def main(argv: list[str] | None = None) -> None:
    """``python -m dfbench_lipforensics.train --config CFG.yaml [--set k=v ...]`` (torchrun-able)."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--set", dest="overrides", action="append", default=[])
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    train(load_config(args.config, args.overrides))


if __name__ == "__main__":
    main()
