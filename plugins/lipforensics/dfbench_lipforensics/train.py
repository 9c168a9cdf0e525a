"""Fine-tuning LipForensics on the dfbench training core (the official repository ships no
training code).

By default, as in the paper, the LRW-pretrained 3D front end and ResNet-18 trunk are frozen (BN
statistics too) and only the temporal back end — the MS-TCN, the head and, for the TA variant, the
attention — is trained with Adam and a binary cross-entropy on clip logits. ``freeze: false``
trains the whole network instead: the explicit choice when no lip-reading trunk exists (the demo
weights are trained that way from scratch), recorded in the weights' ``training.trained``.

What is this family's own: the frozen part (run without autograd, or once for all clips as a
trunk-feature cache when nothing is augmented — exact and several times faster), clip
augmentation (random crops, flips, time offsets; :mod:`.augment`) drawn from (seed, epoch, step),
video-level validation AUC (mean clip logit per video, as evaluation scores), and the warm-up +
cosine schedule. Loop, processes, precision, checkpoints (also every ``checkpoint_every_steps``),
exact resume and selection are the core's (:mod:`dfbench.training`); ``OUT_DIR/summary.json``
records the run.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from dfbench.training import RunSettings, SelectionRule, Task
from dfbench.training.data import holdout_split_name
from dfbench.training.trainer import train as core_train
from dfbench.weights import atomic_write_json, read_weights_dir, resolve_source

from .augment import ClipSampler, centre_crop
from .config import TrainConfig, load_config
from .model import LipForensicsDetector, trainable_parameters

log = logging.getLogger(__name__)


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
        raise ValueError(f"{source} does not fit variant: missing {missing[:8]}, unexpected {unexpected[:8]}")
    if missing and det.net.tcn.attention is not None:
        det.net.tcn.attention.reset_to_uniform()
    return {"init": str(source), "format": "dfbench", "variant": config.get("variant")}


class _Features(torch.utils.data.Dataset):
    """Trunk features ``[N, T, C]`` standing in for clips when the trunk is frozen (exact)."""

    def __init__(self, feats: torch.Tensor, labels: list[int], keys: list[str]) -> None:
        self.feats, self.labels, self.video_keys = feats, labels, keys

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.feats[i], self.labels[i]


class LipForensicsTask(Task):
    family = "lipforensics"
    val_level = "video"

    def __init__(self, config: TrainConfig, train_data: Any = None, val_data: Any = None) -> None:
        super().__init__(config)
        self._given = (train_data, val_data)
        self.use_features = config.freeze and config.cache_features and not config.augment.enabled
        self.init_info: dict[str, Any] = {"init": None}
        self.data_stats: dict[str, Any] = {}

    @property
    def settings(self) -> RunSettings:
        c = self.config
        precision = "fp16" if c.precision == "amp" else c.precision  # the old name, one vocabulary
        return RunSettings(out_dir=c.out_dir, seed=c.seed, epochs=c.epochs, batch_size=c.batch_size,
                           accum_steps=c.accum_steps, drop_last=False, precision=precision, threads=c.threads or None,
                           grad_clip=c.optim.grad_clip, checkpoint_every_steps=c.checkpoint_every_steps,
                           log_every=c.log_every or 20, tensorboard=False, selection=SelectionRule(c.select_metric))

    @property
    def selection_split(self) -> str:
        d = self.config.data
        if d.val_fraction > 0:
            return holdout_split_name(d.dataset, d.train_split, d.val_fraction)
        return f"{d.dataset}/{d.val_split}"

    def build(self):
        from .spec import SPEC

        c = self.config
        det: LipForensicsDetector = SPEC.build(c.variant, c.model_overrides)
        if c.init:
            self.init_info = load_init_weights(det, c.init)
        if c.channels_last:
            det.net.frontend3D.to(memory_format=torch.channels_last_3d)
            det.net.trunk.to(memory_format=torch.channels_last)
        if c.freeze:
            for m in det.net.frozen_modules:
                m.requires_grad_(False)
        return det

    def parameters(self):
        return trainable_parameters(self.net) if self.config.freeze else list(self.net.parameters())

    def train_mode(self, training: bool) -> None:
        self.net.train(training)
        if self.config.freeze:
            for m in self.net.frozen_modules:
                m.eval()

    def make_optimizer(self, params):
        o = self.config.optim
        return torch.optim.Adam(params, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)

    def make_scheduler(self, optimizer, steps_per_epoch):
        o, total = self.config.optim, steps_per_epoch * self.config.epochs

        def factor(step: int) -> float:
            if o.warmup_steps and step < o.warmup_steps:
                return (step + 1) / o.warmup_steps
            if o.scheduler == "constant":
                return 1.0
            span = max(1, total - o.warmup_steps)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - o.warmup_steps) / span)))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor), "step"

    # -- data --------------------------------------------------------------------------------
    def _clips(self) -> tuple[Any, Any]:
        c = self.config
        train_data, val_data = self._given
        if train_data is None or val_data is None:
            from dfbench.specs import load_object

            factory = load_object(c.data.factory)
            spec = self.detector.input_spec
            # With random crops, prepare crops `augment.crop` px larger than the model input.
            prep = dataclasses.replace(spec, size=spec.size + c.augment.crop)
            cache = Path(c.out_dir) / "clips"
            if train_data is None:
                train_data = factory(c.data, c.data.train_split, prep, cache)
            if val_data is None and c.data.val_fraction > 0:
                from .data import holdout_split

                train_data, val_data = holdout_split(train_data, c.data.val_fraction, c.seed)
            elif val_data is None:
                val_data = factory(c.data, c.data.val_split, prep, cache)
        return train_data, val_data

    def datasets(self):
        train_data, val_data = self._clips()
        self.data_stats = {"train": getattr(train_data, "stats", {}), "val": getattr(val_data, "stats", {})}
        self.n_train, self.n_val = len(train_data), len(val_data)
        self.size = int(self.detector.input_spec.size)
        self.sampler = ClipSampler(train_data, self.size, self.config.augment) if self.config.augment.enabled else None
        if self.use_features:
            t0 = time.perf_counter()
            train_data, val_data = self._features(train_data), self._features(val_data)
            log.info("trunk features for %d + %d clips in %.1fs", len(train_data), len(val_data),
                     time.perf_counter() - t0)
        return train_data, val_data

    @torch.no_grad()
    def _features(self, ds) -> _Features:
        self.net.eval()
        feats, labels = [], []
        for lo in range(0, len(ds), self.config.batch_size):
            xs, ys = zip(*(ds[i] for i in range(lo, min(lo + self.config.batch_size, len(ds)))), strict=True)
            x = self._inputs(torch.from_numpy(centre_crop(torch.stack(list(xs)).numpy(), self.size)))
            with self.rt.autocast():
                feats.append(self.net.frame_features(x).float().cpu())
            labels += [int(y) for y in ys]
        return _Features(torch.cat(feats), labels, list(getattr(ds, "video_keys", []) or []))

    def _inputs(self, clips: torch.Tensor) -> torch.Tensor:
        """uint8 ``[B, T, 1, H, W]`` -> the detector's normalisation, official ``[B, 1, T, H, W]`` layout."""
        x = self.detector.normalise(clips.to(self.rt.device))
        return self.detector._to_official_layout(x).contiguous()

    def _batch(self, x: torch.Tensor, ds, indices: list[int]) -> dict[str, Any]:
        keys = list(getattr(ds, "video_keys", []) or [])
        return {"x": x, "labels": torch.tensor([int(ds[i][1]) for i in indices], dtype=torch.float32),
                "keys": [keys[i] for i in indices] if keys else []}

    def load_batch(self, dataset, indices, epoch, step):
        if self.use_features:
            return self._batch(dataset.feats[indices], dataset, indices)
        if self.sampler is not None:
            x = self.sampler.train_batch(indices, (self.config.seed, epoch, step))
        else:
            x = torch.from_numpy(centre_crop(torch.stack([dataset[i][0] for i in indices]).numpy(), self.size))
        return self._batch(x, dataset, indices)

    def load_val_batch(self, dataset, indices):
        if self.use_features:
            return self._batch(dataset.feats[indices], dataset, indices)
        x = torch.from_numpy(centre_crop(torch.stack([dataset[i][0] for i in indices]).numpy(), self.size))
        return self._batch(x, dataset, indices)

    # -- maths ---------------------------------------------------------------------------------
    def forward(self, batch, train: bool):
        x = batch["x"].to(self.rt.device)
        if not self.use_features:
            x = self._inputs(x)
            if self.config.channels_last:
                x = x.contiguous(memory_format=torch.channels_last_3d)
            if self.config.freeze:
                with torch.no_grad():
                    x = self.net.frame_features(x)
            else:
                x = self.net.frame_features(x)
        return {"logits": self.net.tcn(x.to(self.rt.param_dtype))[:, 0]}

    def losses(self, batch, out):
        y = batch["labels"].to(out["logits"].device)
        return {"loss": F.binary_cross_entropy_with_logits(out["logits"].float(), y)}

    # -- records -------------------------------------------------------------------------
    @property
    def trained_note(self) -> str:
        c = self.config
        if c.freeze:
            return ("temporal back end only (front end + trunk frozen, as in the paper); "
                    + (f"from {c.init}" if c.init else "frozen part at its seeded random init"))
        return ("whole network (front end + trunk + temporal back end); "
                + (f"from {c.init}" if c.init else "from scratch (seeded random init)"))

    def weights_extra(self, selection):
        c, d = self.config, self.config_dict()
        return {"training": {"init": self.init_info, "variant": c.variant, "freeze": c.freeze,
                             "trained": self.trained_note, "precision": self.rt.precision, "epochs": c.epochs,
                             "batch_size": c.batch_size, "seed": c.seed, "optim": d["optim"],
                             "augment": d["augment"], "data": d["data"]}}


def train(cfg: TrainConfig, *, train_data: Any = None, val_data: Any = None,
          on_step: Callable[[int, float], None] | None = None, resume: bool | None = None) -> dict[str, Any]:
    """Fine-tune ``cfg.variant``; returns the run summary (also written to ``OUT_DIR/summary.json``).

    ``train_data``/``val_data`` (clip datasets, see :mod:`.data`) override ``cfg.data``;
    ``on_step(step, loss)`` is called after every optimiser step (progress bars, tests).
    """
    task = LipForensicsTask(cfg, train_data, val_data)
    t0 = time.perf_counter()
    res = core_train(task, resume=cfg.resume if resume is None else resume, on_step=on_step)
    history = [{"epoch": h["epoch"], "step": h["step"], "train_loss": h["train"].get("loss"), **h.get("val", {})}
               for h in res.history]
    summary = {
        "trained": task.trained_note, "config": cfg.to_dict(), "selection": res.best, "history": history,
        "best_dir": str(Path(cfg.out_dir) / "best"), "steps": res.steps_done, "precision": res.precision,
        "world_size": res.world_size, "train_clips": getattr(task, "n_train", 0), "val_clips": getattr(task, "n_val", 0),
        "seconds": time.perf_counter() - t0, "data_stats": task.data_stats, "result": res,
    }
    if res.is_main:
        atomic_write_json(Path(cfg.out_dir) / "summary.json", {k: v for k, v in summary.items() if k != "result"})
    return summary


def main(argv: list[str] | None = None) -> None:
    """``python -m dfbench_lipforensics.train --config CFG.yaml [--set k=v ...]`` (torchrun-able):
    the same command as ``dfbench lipforensics train``."""
    from dfbench.cli.train import train_command

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cmd = train_command("lipforensics", load_config, lambda cfg, resume: train(cfg, resume=resume)["result"])
    cmd.main(args=argv, prog_name="dfbench lipforensics train")


__all__ = ["LipForensicsTask", "load_config", "load_init_weights", "main", "train"]

if __name__ == "__main__":
    main()
