"""``dfbench lipforensics ...`` sub-commands (thin wrappers; heavy imports inside the bodies)."""

from __future__ import annotations

import click

from dfbench.cli.train import train_command


@click.group("lipforensics")
def lipforensics_group() -> None:
    """LipForensics: fine-tuning (official checkpoints convert with `dfbench convert lipforensics`)."""


def _load(path, overrides):
    from .config import load_config

    return load_config(path, overrides)


def _run(cfg, resume):
    from .train import train

    return train(cfg, resume=resume)["result"]


train_cmd = train_command(
    "lipforensics", _load, _run,
    help="Fine-tune LipForensics on a prepared dataset. By default the front end + trunk are frozen "
         "and the temporal back end is trained, as in the paper (start from official weights with "
         "--set init=lipforensics_ff.pth); `freeze: false` trains the whole network (e.g. from scratch, "
         "as the demo weights were). Resumes from OUT_DIR/last.pt when present. For DDP run it under "
         "torchrun: `torchrun --nproc_per_node 2 -m dfbench_lipforensics.train --config CFG.yaml`.")
lipforensics_group.add_command(train_cmd)
