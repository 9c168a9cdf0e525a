"""A tiny task on the training core, for the core's own tests (a 200-parameter CNN on 8x8 crops).

Fakes carry a bright centre square, reals do not; a few epochs separate them. Used in-process and
by the subprocess tests (``kill -9`` resume, ``torchrun`` data parallel), which import it from
this folder.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from types import SimpleNamespace

import torch
from torch import nn

from dfbench.detector import Detector
from dfbench.specs import InputSpec
from dfbench.training import RunSettings, SelectionRule, Task
from dfbench.training.config import load_config


@dataclass
class TinyOptim:
    lr: float = 1e-2
    weight_decay: float = 1e-4


@dataclass
class TinyConfig:
    out_dir: str = "runs/tiny"
    seed: int = 3
    epochs: int = 3
    batch_size: int = 4
    accum_steps: int = 1
    precision: str = "fp32"
    n_train: int = 24
    n_val: int = 8
    val_split: str = "val"
    checkpoint_every_steps: int = 0
    dropout: float = 0.25
    optim: TinyOptim = field(default_factory=TinyOptim)
    notes: dict = field(default_factory=dict)


class TinyNet(nn.Module):
    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)  # a bias before BN only adds Adam noise
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn(self.conv(x))).mean((2, 3))
        return self.fc(self.drop(h))[:, 0]


class TinyDetector(Detector):
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def tiny_data(n: int, seed: int) -> list[tuple[torch.Tensor, int, str]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        img = torch.randint(0, 160, (3, 8, 8), generator=g, dtype=torch.uint8)
        if i % 2:
            img[:, 3:5, 3:5] = 255
        out.append((img, i % 2, f"tiny/v{i // 2}_{i % 2}"))
    return out


class TinyTask(Task):
    family = "tiny"

    @property
    def settings(self) -> RunSettings:
        c = self.config
        return RunSettings(out_dir=c.out_dir, seed=c.seed, epochs=c.epochs, batch_size=c.batch_size,
                           accum_steps=c.accum_steps, precision=c.precision, threads=1, tensorboard=True,
                           checkpoint_every_steps=c.checkpoint_every_steps, log_every=1, progress=False,
                           selection=SelectionRule("val_auc"))

    @property
    def selection_split(self) -> str:
        return f"tiny/{self.config.val_split}"

    def build(self):
        det = TinyDetector(TinyNet(self.config.dropout), InputSpec(size=8, cropper="precropped"))
        det.spec, det.variant = SimpleNamespace(name="tiny"), SimpleNamespace(name="test", config={})
        return det

    def make_optimizer(self, params):
        return torch.optim.AdamW(params, lr=self.config.optim.lr, weight_decay=self.config.optim.weight_decay)

    def make_scheduler(self, optimizer, steps_per_epoch):
        return torch.optim.lr_scheduler.StepLR(optimizer, 1, 0.9), "epoch"

    def datasets(self):
        return tiny_data(self.config.n_train, 0), tiny_data(self.config.n_val, 1)

    def collate(self, items):
        return {"images": torch.stack([i[0] for i in items]), "labels": torch.tensor([i[1] for i in items]),
                "keys": [i[2] for i in items]}

    def forward(self, batch, train):
        x = self.detector.normalise(batch["images"].to(self.rt.device))
        return {"logits": self.net(x)}

    def losses(self, batch, out):
        y = batch["labels"].to(out["logits"].device).to(out["logits"].dtype)
        return {"loss": nn.functional.binary_cross_entropy_with_logits(out["logits"], y)}


def tiny_config(*overrides: str) -> TinyConfig:
    return load_config(TinyConfig, None, list(overrides))


if __name__ == "__main__":  # the subprocess tests: python training_tiny_task.py KEY=VALUE ...
    from dfbench.training.trainer import train

    train(TinyTask(tiny_config(*sys.argv[1:])), resume=True)
