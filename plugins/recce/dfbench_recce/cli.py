"""``dfbench recce ...`` commands (click). Heavy imports happen inside the command bodies."""

from __future__ import annotations

import click


@click.group("recce")
def recce() -> None:
    """RECCE: training and utilities."""


@recce.command("train")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), required=True,
              help="YAML training config (see dfbench_recce/configs/).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config entry, e.g. --set epochs=3 --set optim.lr=1e-4 (repeatable).")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Continue from OUT_DIR/last.pt when it exists.")
def train_cmd(config_path: str, overrides: tuple[str, ...], resume: bool) -> None:
    """Train RECCE or recce_gf (torchrun-ready: launch with `torchrun --nproc-per-node N`).

    Progress is logged: run `dfbench -v recce train ...` to see it.
    """
    from .config import load_config
    from .train import train

    cfg = load_config(config_path, overrides)
    result = train(cfg, resume=resume)
    click.echo(f"best epoch {result['best_epoch']} ({cfg.early_stopping.metric} on the "
               f"'{cfg.data.val_split}' split = {result['best_value']:.4f}); weights in {result['weights_dir']}")


@recce.command("export")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.argument("dst", type=click.Path(file_okay=False))
@click.option("--dtype", type=click.Choice(["bfloat16", "float16", "float32"]), default="bfloat16", show_default=True,
              help="Storage precision of the exported safetensors (loaded into float32 by the harness).")
@click.option("--tag", default=None, help="Weights tag recorded in config.json (default: DST's directory name).")
def export_cmd(src: str, dst: str, dtype: str, tag: str | None) -> None:
    """Re-save trained weights SRC (e.g. runs/x/best) to DST for shipping."""
    from .train import export_weights

    out = export_weights(src, dst, dtype, tag=tag)
    click.echo(f"wrote {out}")
