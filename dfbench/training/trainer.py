"""The one training loop every trainable family runs on (see :class:`~dfbench.training.task.Task`).

What the loop guarantees, whatever the family:

* **Exact resume.** ``OUT/last.pt`` (model, optimiser, scheduler, scaler, every process's RNG
  states incl. CUDA's, position in the epoch, history, selection and early-stopping state) is
  written atomically and fsynced at every epoch end and every ``checkpoint_every_steps`` steps.
  The batch order is a pure function of (seed, epoch) and every epoch re-seeds all generators, so
  a run killed with ``kill -9`` and restarted ends with the weights of an uninterrupted one.
* **N processes = one process with N× the batch** (:mod:`.runtime`): global-batch slices, one
  summed gradient all-reduce, BatchNorm over the global batch, loss weights by global counts.
* **Selection on the source data only**, by a recorded rule (:class:`.task.SelectionRule`),
  metrics from :mod:`dfbench.metrics` (the numbers evaluation reports), optional early stopping.
  The selected epoch's weights go to ``OUT/best`` (dfbench weights with the selection inside) and
  the record to ``OUT/selection.json``.
* TensorBoard scalars in ``OUT/tb`` and a progress bar per epoch on the main process.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .checkpoint import load_checkpoint, rng_state, save_checkpoint, seed_everything, set_rng_state
from .data import epoch_batches
from .runtime import Runtime, TrainingError, convert_sync_bn, setup
from .task import RunSettings, Task

log = logging.getLogger(__name__)

CHECKPOINT = "last.pt"


@dataclass
class TrainResult:
    is_main: bool
    epochs_done: int
    steps_done: int
    history: list[dict] = field(default_factory=list)
    best: dict | None = None
    best_weights_dir: str | None = None
    step_losses: list[dict] = field(default_factory=list)
    """Per-step loss terms (global-batch means) of this invocation, main process only."""
    precision: str = "fp32"
    world_size: int = 1


class StepContext:
    """One optimiser step's micro-batches and the trainer's tools for a task's own step."""

    def __init__(self, trainer: Trainer, micro: list[dict[str, Any]]) -> None:
        self.trainer, self.micro = trainer, micro
        self.optimizer = trainer.optimizer
        self.scaler = trainer.rt.scaler
        self.params = trainer.params
        self.rt = trainer.rt

    def forward_backward(self) -> dict[str, float]:
        """Accumulate the global-batch loss gradient over the micro-batches, summed over processes."""
        return self.trainer.forward_backward(self.micro)

    def step(self) -> None:
        """Clip (if configured), then step through the scaler when there is one."""
        self.trainer.optimizer_step()


def _weight(task: Task, n_micro: int, n_global: int) -> float:
    return 1.0 if task.loss_is_global else n_micro / max(1, n_global)


class Trainer:
    """Runs a :class:`Task`; :func:`train` is the short way."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.s: RunSettings = task.settings
        self.out = Path(self.s.out_dir)
        self.ckpt_path = self.out / CHECKPOINT
        self.rt: Runtime = setup(self.s.device, self.s.precision, self.s.threads)
        task.rt = self.rt
        self.epoch = self.step = self.step_in_epoch = 0
        self.history: list[dict] = []
        self.best: dict | None = None
        self.bad_epochs = 0
        self.stopped = False
        self.step_losses: list[dict] = []
        self.writer = None
        self._n_global = 0
        seed_everything(self.s.seed)
        det = task.build()
        det.to(self.rt.device)
        if self.rt.precision == "fp64":
            det.to(torch.float64)
        task.detector = det
        if self.rt.world > 1 and self.s.sync_bn:
            convert_sync_bn(task.net)
        self.rt.broadcast_module(task.net)
        self.params = task.parameters()
        self.optimizer = task.make_optimizer(self.params)
        self.train_set = self.val_set = None
        self.scheduler = None
        self.sched_interval = "step"

    # -- set-up ----------------------------------------------------------------------------
    def setup_data(self) -> None:
        """Build the datasets (the main process first: it fills caches the others then read)."""
        for turn in (True, False):
            if self.rt.is_main == turn:
                self.train_set, self.val_set = self.task.datasets()
            self.rt.barrier()
        n = len(self.train_set)
        self.steps_per_epoch = len(self._batches(0))
        if self.steps_per_epoch == 0:
            raise TrainingError(f"{n} training samples cannot fill one step of {self.s.batch_size} × "
                                f"{self.rt.world} process(es); lower the batch size or add data")
        made = self.task.make_scheduler(self.optimizer, self.steps_per_epoch)
        if made is not None:
            self.scheduler, self.sched_interval = made
        log.info("training on %d samples (%d steps/epoch), validating on %s", n, self.steps_per_epoch,
                 "nothing" if self.val_set is None else f"{len(self.val_set)} samples")

    def _batches(self, epoch: int) -> list[list[int]]:
        s = self.s
        return epoch_batches(len(self.train_set), s.batch_size, rank=self.rt.rank, world=self.rt.world,
                             seed=s.seed, epoch=epoch, shuffle=s.shuffle, drop_last=s.drop_last,
                             max_steps=s.steps_per_epoch)

    # -- checkpoints -------------------------------------------------------------------------
    def _payload(self, rngs: list) -> dict[str, Any]:
        return {
            "epoch": self.epoch, "step": self.step, "step_in_epoch": self.step_in_epoch,
            "model": {k: v.detach().cpu() for k, v in self.task.net.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else {},
            "scaler": self.rt.scaler.state_dict() if self.rt.scaler is not None else {},
            "rng": rngs, "history": self.history, "best": self.best, "bad_epochs": self.bad_epochs,
            "stopped": self.stopped, "config": self.task.config_dict(), "world_size": self.rt.world,
            "precision": self.rt.precision,
        }

    def save(self) -> None:
        rngs = self.rt.all_gather_object(rng_state())
        if self.rt.is_main:
            save_checkpoint(self.ckpt_path, self._payload(rngs))

    def resume(self) -> bool:
        if not self.ckpt_path.exists():
            return False
        ck = load_checkpoint(self.ckpt_path)
        self.task.net.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        if self.scheduler is not None and ck.get("scheduler"):
            self.scheduler.load_state_dict(ck["scheduler"])
        if self.rt.scaler is not None and ck.get("scaler"):
            self.rt.scaler.load_state_dict(ck["scaler"])
        self.epoch, self.step, self.step_in_epoch = int(ck["epoch"]), int(ck["step"]), int(ck["step_in_epoch"])
        self.history, self.best = list(ck.get("history") or []), ck.get("best")
        self.bad_epochs, self.stopped = int(ck.get("bad_epochs", 0)), bool(ck.get("stopped", False))
        rngs = ck.get("rng") or []
        if self.step_in_epoch and rngs:  # mid-epoch: continue every generator where it stood
            set_rng_state(rngs[self.rt.rank] if self.rt.rank < len(rngs) else rngs[0])
        log.info("resumed from %s at epoch %d, step %d", self.ckpt_path, self.epoch, self.step)
        return True

    # -- one step ------------------------------------------------------------------------------
    def forward_backward(self, micro: list[dict[str, Any]]) -> dict[str, float]:
        task, rt = self.task, self.rt
        sums: dict[str, float] = {}
        for mb in micro:
            with rt.autocast():
                out = task.forward(mb, train=True)
            terms = task.losses(mb, out)
            w = _weight(task, len(mb["labels"]), self._n_global)
            loss = terms[task.loss_key] * w
            if rt.scaler is not None:
                loss = rt.scaler.scale(loss)
            loss.backward()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) * w
        rt.sum_grads(self.params)
        keys = sorted(sums)
        return dict(zip(keys, rt.all_sum([sums[k] for k in keys]), strict=True))

    def optimizer_step(self) -> None:
        scaler = self.rt.scaler
        if self.s.grad_clip:
            if scaler is not None:
                scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.params, self.s.grad_clip)
        if scaler is not None:
            scaler.step(self.optimizer)
            scaler.update()
        else:
            self.optimizer.step()

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        task = self.task
        self._n_global = int(self.rt.all_sum([float(len(batch["labels"]))])[0])
        batch = task.begin_step(batch)
        micro = task.micro_batches(batch, max(1, self.s.accum_steps))
        self.optimizer.zero_grad(set_to_none=True)
        ctx = StepContext(self, micro)
        terms = task.optimizer_step(ctx)
        if terms is None:
            terms = ctx.forward_backward()
            ctx.step()
        if self.scheduler is not None and self.sched_interval == "step":
            self.scheduler.step()
        return terms

    # -- validation ------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        from ..metrics import frame_metrics, video_metrics

        task, rt = self.task, self.rt
        if self.val_set is None or len(self.val_set) == 0:
            return {}
        task.train_mode(False)
        bs = self.s.val_batch_size or self.s.batch_size
        logits, labels, keys = [], [], []
        sums: dict[str, float] = {}
        n = len(self.val_set)
        for lo in range(0, n, bs):
            batch = task.load_val_batch(self.val_set, list(range(lo, min(n, lo + bs))))
            with rt.autocast():
                out = task.forward(batch, train=False)
            terms = task.losses(batch, out)
            m = len(batch["labels"])
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v) * m
            logits.append(out["logits"].float().reshape(-1).cpu())
            labels += [int(y) for y in batch["labels"]]
            keys += list(batch.get("keys") or [])
        task.train_mode(True)
        s = torch.cat(logits).numpy()
        if not all(math.isfinite(v) for v in s):
            return {"val_auc": float("nan"), "val_loss": float("nan"), "val_n": n}
        if task.val_level == "video" and keys:
            m = video_metrics(keys, labels, s, bootstrap=0)
            extra = {"val_videos": int(m["n"])}
        else:
            m = frame_metrics(labels, s, bootstrap=0)
            extra = {}
        loss = sums.pop(task.loss_key) / n
        return {"val_auc": float(m["auc"]), "val_acc": float(m["acc"]), "val_loss": loss,
                **{f"val_loss_{k}": v / n for k, v in sums.items()}, "val_n": n, **extra}

    def _better(self, metrics: dict[str, float]) -> bool:
        rule = self.s.selection
        if self.best is None or not metrics:
            return True
        value, best = metrics[rule.metric], self.best["value"]
        if math.isnan(value):
            return False
        if math.isnan(best):
            return True
        d = rule.min_delta
        if rule.maximise:
            return value > best + d or (d == 0 and value == best and metrics["val_loss"] < self.best["val_loss"])
        return value < best - d

    def _select(self, metrics: dict[str, float]) -> None:
        rule, split = self.s.selection, self.task.selection_split
        if self._better(metrics):
            self.best = {"metric": rule.metric, "value": metrics.get(rule.metric, float("nan")),
                         "val_loss": metrics.get("val_loss", float("nan")), "epoch": self.epoch,
                         "step": self.step, "split": split, "rule": rule.describe(split)}
            self.bad_epochs = 0
            self._save_best()
        else:
            self.bad_epochs += 1
        self.stopped = rule.patience is not None and self.bad_epochs >= rule.patience

    def _save_best(self) -> None:
        from ..weights import atomic_write_json, save_weights

        det = self.task.detector
        was = det.training
        save_weights(det, self.out / "best", extra_config={"selection": self.best,
                                                           **self.task.weights_extra(self.best)})
        det.train(was)
        atomic_write_json(self.out / "selection.json", self.best)

    # -- the loop ----------------------------------------------------------------------------
    def run(self, resume: bool = True, stop_after_epochs: int | None = None, on_step=None) -> TrainResult:
        from ..weights import atomic_write_bytes
        from .config import to_yaml

        s, rt = self.s, self.rt
        if rt.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.out / "config.yaml", to_yaml(self.task.config).encode())
        self.setup_data()
        if resume:
            self.resume()
        if rt.is_main and s.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(self.out / "tb"), purge_step=self.step)
            except ImportError:  # pragma: no cover - tensorboard is a test dependency
                log.warning("tensorboard is not installed: no TensorBoard logs")
        end = s.epochs if stop_after_epochs is None else min(s.epochs, self.epoch + stop_after_epochs)
        try:
            while self.epoch < end and not self.stopped:
                self._run_epoch(on_step)
        finally:
            if self.writer is not None:
                self.writer.close()
        best_dir = str(self.out / "best") if (self.out / "best").exists() else None
        return TrainResult(rt.is_main, self.epoch, self.step, self.history, self.best, best_dir,
                           self.step_losses, rt.precision, rt.world)

    def _run_epoch(self, on_step) -> None:
        from tqdm.auto import tqdm

        s, rt, task = self.s, self.rt, self.task
        epoch = self.epoch
        if not self.step_in_epoch:
            # Every draw of the epoch (dropout, noise, augmentation) derives from this seed.
            seed_everything(s.seed * 100_003 + epoch * 1_009 + rt.rank)
        if hasattr(self.train_set, "set_epoch"):  # per-epoch re-draws (e.g. frames per video)
            self.train_set.set_epoch(epoch)
        task.set_epoch(epoch)
        task.train_mode(True)
        batches = self._batches(epoch)
        start = self.step_in_epoch
        sums: dict[str, float] = {}
        seen = 0
        t0 = time.perf_counter()
        bar = tqdm(total=len(batches), initial=start, desc=f"epoch {epoch + 1}/{s.epochs}", unit="step",
                   leave=False, disable=not (rt.is_main and s.progress), dynamic_ncols=True)
        loader = _loader(task, self.train_set, batches[start:], epoch, start, s.num_workers)
        for i, batch in enumerate(loader, start):
            lr = self.optimizer.param_groups[0]["lr"]  # the rate this step uses
            terms = self.train_step(batch)
            total = terms.get(task.loss_key, float("nan"))
            if not math.isfinite(total):
                raise TrainingError(f"loss is {total} at epoch {epoch + 1} step {i + 1}; lower the learning "
                                    f"rate or train in fp32")
            self.step += 1
            self.step_in_epoch = i + 1
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v * self._n_global
            seen += self._n_global
            bar.update(1)
            bar.set_postfix(loss=f"{total:.4f}", refresh=False)
            if rt.is_main:
                self.step_losses.append({"step": self.step, "lr": lr, **terms})
                if self.writer is not None and self.step % max(1, s.log_every) == 0:
                    for k, v in terms.items():
                        self.writer.add_scalar(f"train/loss_{k}", v, self.step)
                    self.writer.add_scalar("train/lr", lr, self.step)
            if on_step is not None:
                on_step(self.step, total)
            if s.checkpoint_every_steps and self.step % s.checkpoint_every_steps == 0 and i + 1 < len(batches):
                self.save()
        bar.close()
        if self.scheduler is not None and self.sched_interval == "epoch":
            self.scheduler.step()
        dt = time.perf_counter() - t0
        self.epoch, self.step_in_epoch = epoch + 1, 0
        record: dict[str, Any] = {"epoch": self.epoch, "step": self.step,
                                  "lr": self.optimizer.param_groups[0]["lr"],
                                  "train": {k: v / max(1, seen) for k, v in sums.items()},
                                  "images_per_s": seen / max(dt, 1e-9)}
        decision = None
        if rt.is_main:
            metrics = self.validate()
            record["val"] = metrics
            self.history.append(record)
            self._select(metrics)
            decision = (self.best, self.bad_epochs, self.stopped)
            if self.writer is not None:
                for k, v in {**record["train"], **metrics}.items():
                    if isinstance(v, float):
                        self.writer.add_scalar(f"epoch/{k}", v, self.epoch)
                self.writer.flush()
            log.info("epoch %d: train %s val %s", self.epoch, record["train"], metrics)
        else:
            self.history.append(record)
        self.best, self.bad_epochs, self.stopped = rt.broadcast_object(decision)
        self.save()
        rt.barrier()


class _Batches(torch.utils.data.Dataset):
    """Batch ``j`` of an epoch as one item, so a DataLoader's workers can build whole batches."""

    def __init__(self, task: Task, dataset: Any, batches: list[list[int]], epoch: int, first: int) -> None:
        self.task, self.dataset, self.batches, self.epoch, self.first = task, dataset, batches, epoch, first

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, j: int) -> dict[str, Any]:
        return self.task.load_batch(self.dataset, self.batches[j], self.epoch, self.first + j)


def _loader(task: Task, dataset: Any, batches: list[list[int]], epoch: int, first: int, workers: int):
    src = _Batches(task, dataset, batches, epoch, first)
    if not workers:
        return (src[j] for j in range(len(src)))
    return torch.utils.data.DataLoader(src, batch_size=None, shuffle=False, num_workers=workers)


def train(task: Task, resume: bool = True, stop_after_epochs: int | None = None, on_step=None) -> TrainResult:
    """Train ``task`` as its settings say; under ``torchrun`` every process calls this."""
    try:
        trainer = Trainer(task)
        return trainer.run(resume=resume, stop_after_epochs=stop_after_epochs, on_step=on_step)
    finally:
        rt = getattr(task, "rt", None)  # set even when building the trainer failed half-way
        if rt is not None:
            rt.close()


def result_dict(result: TrainResult) -> dict[str, Any]:
    return asdict(result)


__all__ = ["CHECKPOINT", "StepContext", "TrainResult", "Trainer", "train"]
