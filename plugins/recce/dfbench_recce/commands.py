"""``dfbench recce ...`` commands (click). Heavy imports happen inside the command bodies."""

from __future__ import annotations

import click

from dfbench.cli.train import train_command


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


@recce.command("export")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.argument("dst", type=click.Path(file_okay=False))
@click.option("--dtype", type=click.Choice(["bfloat16", "float16", "float32"]), default="bfloat16", show_default=True,
              help="Storage precision of the exported safetensors (loaded into float32 by the harness).")
@click.option("--tag", default=None, help="Weights tag recorded in config.json (default: DST's directory name).")
def export_cmd(src: str, dst: str, dtype: str, tag: str | None) -> None:
    """Re-save trained weights SRC (e.g. runs/x/best) to DST for shipping."""
    from .export import export_weights

    out = export_weights(src, dst, dtype, tag=tag)
    click.echo(f"wrote {out}")
