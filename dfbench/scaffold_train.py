"""Templates of the trainable part of ``dfbench new-plugin``: a task on the training core.

Kept apart from :mod:`dfbench.scaffold` so each file stays short; the strings are ``str.format``
templates (``{name}``, ``{Name}``; literal braces doubled).
"""

CONFIG = '''"""Training config of {name}: dataclasses read by dfbench's core loader (YAML + ``--set``)."""

from dataclasses import dataclass, field
from pathlib import Path

from dfbench.training.config import load_config as _load


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 1e-4


@dataclass
class TrainConfig:
    variant: str = "base"
    out_dir: str = "runs/{name}"
    dataset: str = "demo"
    """A registered dfbench dataset; its crops are made exactly as evaluation makes them."""
    data_root: str | None = None
    train_split: str = "train"
    val_fraction: float = 0.25
    """Videos of the training split held out (by video) for checkpoint selection."""
    frames_per_video: int = 8
    epochs: int = 10
    batch_size: int = 16
    precision: str = "auto"
    device: str = "auto"
    seed: int = 0
    optim: OptimConfig = field(default_factory=OptimConfig)


def load_config(path: str | Path | None = None, overrides=()) -> TrainConfig:
    return _load(TrainConfig, path, list(overrides))
'''

TRAIN = '''"""Training task of {name} on dfbench's training core (loop, DDP, resume, selection are the core's)."""

import torch
from torch import nn

from dfbench.training import RunSettings, SelectionRule, Task
from dfbench.training.data import frame_crops, holdout_keys, holdout_split_name
from dfbench.training.trainer import train as core_train

from .config import TrainConfig


class {Name}Task(Task):
    family = "{name}"

    def __init__(self, config: TrainConfig, train_data=None, val_data=None):
        super().__init__(config)
        self._given = (train_data, val_data)

    @property
    def settings(self) -> RunSettings:
        c = self.config
        return RunSettings(out_dir=c.out_dir, seed=c.seed, epochs=c.epochs, batch_size=c.batch_size,
                           drop_last=False, precision=c.precision, device=c.device, tensorboard=False,
                           selection=SelectionRule("val_auc"))

    @property
    def selection_split(self) -> str:
        c = self.config
        return holdout_split_name(c.dataset, c.train_split, c.val_fraction)

    def build(self):
        from .plugin import SPEC

        return SPEC.build(self.config.variant)

    def make_optimizer(self, params):
        o = self.config.optim
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)

    def datasets(self):
        """Samples are (uint8 crop [C, S, S], label, video key); validation = held-out videos."""
        train_data, val_data = self._given
        if train_data is None:
            c = self.config
            images, labels, keys = frame_crops(c.dataset, c.train_split, self.detector.input_spec,
                                               data_root=c.data_root, frames_per_video=c.frames_per_video)
            samples = [(torch.from_numpy(x), y, k) for x, y, k in zip(images, labels, keys)]
            held = holdout_keys(keys, c.val_fraction, c.seed, labels)
            train_data = [s for s in samples if s[2] not in held]
            val_data = [s for s in samples if s[2] in held]
        return train_data, val_data

    def collate(self, items):
        return {{"images": torch.stack([torch.as_tensor(i[0]) for i in items]),
                "labels": torch.tensor([int(i[1]) for i in items])}}

    def forward(self, batch, train):
        x = self.detector.normalise(batch["images"].to(self.rt.device))  # the detector's own normalisation
        return {{"logits": self.detector.logits(x)}}

    def losses(self, batch, out):
        y = batch["labels"].to(out["logits"].device).to(out["logits"].dtype)
        return {{"loss": nn.functional.binary_cross_entropy_with_logits(out["logits"], y)}}


def train(cfg: TrainConfig, resume: bool | None = True, train_data=None, val_data=None):
    return core_train({Name}Task(cfg, train_data, val_data), resume=resume is not False)
'''

COMMANDS = '''"""``dfbench {name} ...`` commands: the core's ``train`` command, same options as every family."""

import click

from dfbench.cli.train import train_command


@click.group("{name}")
def {name}_group():
    """{name}: training."""


def _load(path, overrides):
    from .config import load_config

    return load_config(path, overrides)


def _run(cfg, resume):
    from .train import train

    return train(cfg, resume=resume)


{name}_group.add_command(train_command("{name}", _load, _run))
'''

HOOK = '''

@hookimpl
def register_commands(cli):
    from .commands import {name}_group

    cli.add_command({name}_group)
'''

TEST = '''

def test_training_on_the_core_selects_on_held_out_videos(tmp_path):
    import json

    import torch

    from dfbench_{name}.config import load_config
    from dfbench_{name}.train import train

    g = torch.Generator().manual_seed(0)
    data = []
    for i in range(24):
        img = torch.randint(0, 150, (3, 32, 32), generator=g, dtype=torch.uint8)
        if i % 2:
            img[:, 12:20, 12:20] = 255
        data.append((img, i % 2, f"v{{i}}"))
    cfg = load_config(None, ["variant=test", f"out_dir={{tmp_path}}", "epochs=2", "batch_size=8",
                             "precision=fp32"])
    res = train(cfg, train_data=data[:16], val_data=data[16:])
    assert res.epochs_done == 2 and (tmp_path / "last.pt").exists()
    selection = json.loads((tmp_path / "best" / "config.json").read_text())["selection"]
    assert selection["metric"] == "val_auc" and "no test data" in selection["rule"]
'''
