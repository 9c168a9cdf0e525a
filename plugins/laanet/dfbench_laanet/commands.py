"""``dfbench laanet ...``: training and visual checks for LAA-Net.

Registered on the root CLI by the plugin's ``register_commands`` hook. Only click is imported at
module level: torch, OpenCV and the synthesis code load inside the command bodies, so that
``dfbench --help`` stays instant.
"""

from __future__ import annotations

import click


@click.group(name="laanet")
def laanet() -> None:
    """LAA-Net (CVPR 2024): train on real faces with SBI/BI pseudo-fakes, inspect the synthesis."""


@laanet.command(name="train")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="YAML training config (see `dfbench laanet train --print-config`).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Run directory (checkpoints, TensorBoard logs, best weights). Overrides run.out_dir.")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Continue from OUT/checkpoints/last.pt when it exists.")
@click.option("--print-config", is_flag=True, help="Print the resolved config as YAML and exit.")
@click.argument("overrides", nargs=-1)
def train_cmd(config_path: str | None, out_dir: str | None, resume: bool, print_config: bool,
              overrides: tuple[str, ...]) -> None:
    """Train LAA-Net. OVERRIDES are dotted ``key=value`` pairs, e.g. ``optim.lr=5e-5 data.frames_per_video=8``."""
    from .config import load_config

    cfg = load_config(config_path, overrides=list(overrides))
    if out_dir:
        cfg.run.out_dir = out_dir
    if print_config:
        click.echo(cfg.to_yaml(), nl=False)
        return
    from .train import train

    result = train(cfg, resume=resume)
    if result.is_main:
        click.echo(f"finished {result.epochs_done} epoch(s), {result.steps_done} step(s) in {cfg.run.out_dir}")
        if result.best is not None:
            click.echo(f"best checkpoint (source validation split): epoch {result.best['epoch']}, "
                       f"val AUC {result.best['val_auc']:.4f}, val loss {result.best['val_loss']:.4f}"
                       f" -> {result.best_weights_dir}")


@laanet.command(name="show-sbi")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default="sbi_check.png",
              show_default=True, help="PNG to write.")
@click.option("--image", "images", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Face image(s) to use (landmarks found with dlib). Default: the demo faces.")
@click.option("--n", "n_faces", type=int, default=4, show_default=True, help="Rows in the grid.")
@click.option("--size", type=int, default=256, show_default=True, help="Output crop size.")
@click.option("--method", type=click.Choice(["sbi", "bi"]), default="sbi", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def show_sbi_cmd(out_path: str, images: tuple[str, ...], n_faces: int, size: int, method: str,
                 seed: int) -> None:
    """Save a grid PNG: real / fake / blend mask / heatmap target / consistency target."""
    from .synthesis.show import save_synthesis_grid

    path = save_synthesis_grid(out_path, images=list(images), n=n_faces, size=size,
                               method=method, seed=seed)
    click.echo(f"wrote {path}")
