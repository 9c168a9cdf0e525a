"""``dfbench recce ...`` commands (click). Heavy imports happen inside the command bodies."""

from __future__ import annotations

import click

from dfbench.cli.train import export_command, train_command


@click.group("recce")
def recce() -> None:
    """RECCE: training and utilities."""


def _load(path, overrides):
    from .config import load_config

    return load_config(path, overrides)


def _run(cfg, resume):
    from .train import train

    return train(cfg, resume=True if resume is None else resume)["result"]


recce.add_command(train_command(
    "recce", _load, _run,
    help="Train RECCE or recce_gf (torchrun-ready: launch with `torchrun --nproc-per-node N`). "
         "Progress is logged: run `dfbench -v recce train ...` to see it."))


recce.add_command(export_command("bfloat16"))  # RECCE's shipped weights are stored in bfloat16
