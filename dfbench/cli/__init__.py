"""The ``dfbench`` command line: one module per sub-command (or small group) over library functions
that never import click; every core command is registered here, in one place, and plugins add
theirs through the ``register_commands`` hook (loaded on first need, collision-checked in
:mod:`dfbench.cli.guard`).

Only this package prints. Command modules import their engines inside the command bodies, so
``dfbench --help`` never imports torch.
"""

from __future__ import annotations

import sys

import click

from ..errors import DfbenchError
from .bench import bench_command
from .compare import compare_cmd
from .convert import convert as convert_command
from .convert import export_command, new_plugin
from .datasets import datasets_cli, suite_cmd
from .demo import demo as demo_command
from .evaluate import index, predict, run
from .figures import figures_command
from .group import cli
from .hub import hub_cli
from .info import list_, plugins, results
from .leaderboard import leaderboard_cli
from .options import dataset_flags, dataset_options
from .prepare import faces_command, prepare_command
from .robustness import robustness_command

CORE_COMMANDS = (
    run, list_, plugins, index, predict, results, convert_command, new_plugin, demo_command,  # evaluate, inspect, convert
    robustness_command, bench_command, figures_command, compare_cmd,  # grids, cost, comparisons
    datasets_cli, suite_cmd, prepare_command, faces_command,  # data: integrity, suites, crop cache
    hub_cli, leaderboard_cli, export_command,  # sharing: Hub weights, leaderboards, ONNX/TorchScript
)
for _cmd in CORE_COMMANDS:
    cli.add_command(_cmd)


def main() -> None:
    # Before anything imports torch: its OpenMP runtime reads these once, when it loads.
    from ..threads import set_env_defaults

    set_env_defaults()
    try:
        cli(prog_name="dfbench")
    except DfbenchError as e:  # errors raised outside command invocation (e.g. plugin loading)
        click.secho(f"error: {e}", fg="red", err=True)
        sys.exit(1)


__all__ = ["CORE_COMMANDS", "cli", "dataset_flags", "dataset_options", "main", "run"]
