"""``dfbench lipforensics ...`` sub-commands (thin wrappers; heavy imports inside the bodies)."""

from __future__ import annotations

import click


@click.group("lipforensics")
def lipforensics_group() -> None:
    """LipForensics: fine-tuning and checkpoint conversion."""


@lipforensics_group.command("train")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="YAML training config (see dfbench_lipforensics/configs/).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config field, e.g. --set epochs=3 --set optim.lr=1e-4.",
)
@click.option("--no-resume", is_flag=True, help="Start over even if OUT_DIR holds a checkpoint.")
def train_cmd(config_path: str, overrides: tuple[str, ...], no_resume: bool) -> None:
    """Fine-tune LipForensics on a prepared dataset.

    By default the front end + trunk are frozen and the temporal back end is trained, as in the
    paper (start from official weights with --set init=lipforensics_ff.pth); `freeze: false`
    trains the whole network (e.g. from scratch, as the demo weights were). Resumes from
    OUT_DIR/last.pt when present. For DDP run it under torchrun:
    `torchrun --nproc_per_node 2 -m dfbench_lipforensics.train --config CFG.yaml`.
    """
    from .config import load_config
    from .train import train

    cfg = load_config(config_path, overrides)
    if no_resume:
        cfg = cfg.replace(resume=False)
    summary = train(cfg)
    click.echo(
        f"best {summary['selection']['metric']} = {summary['selection']['value']:.4f} "
        f"(epoch {summary['selection']['epoch']}) -> {summary['best_dir']}"
    )


@lipforensics_group.command("convert")
@click.argument("official", type=click.Path(exists=True, dir_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--variant", default="r18", type=click.Choice(["r18", "r18_ta"]), show_default=True)
def convert_cmd(official: str, out_dir: str, variant: str) -> None:
    """Official lipforensics_ff.pth -> OUT_DIR/model.safetensors + config.json."""
    from .convert import convert_file

    click.echo(str(convert_file(official, out_dir, variant)))
