"""``dfbench sbi train``: SBI on the dfbench training core (registered by the plugin's hook).

Only click is imported at module level so that ``dfbench --help`` stays instant.
"""

from __future__ import annotations

import click

from dfbench.cli.train import train_command


@click.group(name="sbi")
def sbi() -> None:
    """SBI (CVPR 2022): train on real faces with self-blended pseudo-fakes."""


def _load(path, overrides):
    from .config import load_config

    return load_config(path, overrides)


def _run(cfg, resume):
    from .train import train

    return train(cfg, resume=True if resume is None else resume)


sbi.add_command(train_command(
    "sbi", _load, _run,
    help="Train SBI, e.g. --set optim.lr=1e-4 --set data.frames_per_video=8. "
         "Launch under `torchrun --nproc-per-node N -m dfbench_sbi train ...` for data parallel training."))
