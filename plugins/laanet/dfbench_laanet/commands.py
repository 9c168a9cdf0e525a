"""``dfbench laanet ...``: training and visual checks for LAA-Net.

Registered on the root CLI by the plugin's ``register_commands`` hook. Only click is imported at
module level: torch, OpenCV and the synthesis code load inside the command bodies, so that
``dfbench --help`` stays instant.
"""

from __future__ import annotations

import click

from dfbench.cli.train import train_command


@click.group(name="laanet")
def laanet() -> None:
    """LAA-Net (CVPR 2024): train on real faces with SBI/BI pseudo-fakes, inspect the synthesis."""


def _load(path, overrides):
    from .config import load_config

    return load_config(path, overrides)


def _run(cfg, resume):
    from .train import train

    return train(cfg, resume=True if resume is None else resume)


laanet.add_command(train_command(
    "laanet", _load, _run, legacy_overrides=True,
    help="Train LAA-Net, e.g. --set optim.base_lr=5e-5 --set data.frames_per_video=8. "
         "Launch under `torchrun --nproc-per-node N` for data parallel training."))


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
    from .show import save_synthesis_grid

    path = save_synthesis_grid(out_path, images=list(images), n=n_faces, size=size,
                               method=method, seed=seed)
    click.echo(f"wrote {path}")
