"""``dfbench <family> train``: the one training command every trainable family registers.

Same options for every family::

    dfbench <family> train --config CFG.yaml [--set key=value ...] [--resume/--no-resume] [--print-config]

Run it under ``torchrun --nproc-per-node N`` for data parallel training. A family passes its
config loader and its ``train`` function; the rest (option parsing, errors, the summary line) is
here so that the families cannot drift apart again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def train_command(family: str, load: Callable[[str | None, list[str]], Any], run: Callable[[Any, bool], Any],
                  *, legacy_overrides: bool = False, help: str | None = None) -> click.Command:
    """A click ``train`` command for ``family``.

    ``load(path, overrides) -> config`` and ``run(config, resume) -> TrainResult``; ``resume`` is
    None when neither ``--resume`` nor ``--no-resume`` was given (the family's default applies).
    ``legacy_overrides`` keeps positional ``key=value`` arguments working (LAA-Net's old syntax),
    with a deprecation message pointing at ``--set``.
    """

    @click.command(name="train", help=help or f"Train {family} on the dfbench training core.")
    @click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                  help=f"YAML training config (see dfbench_{family}/configs/).")
    @click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                  help="Override a config entry, e.g. --set optim.lr=1e-4 (repeatable; YAML values).")
    @click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
                  help="Run directory (checkpoints, TensorBoard logs, best weights); overrides the config's.")
    @click.option("--resume/--no-resume", default=None,
                  help="Continue from OUT/last.pt when it exists (default: yes, or the config's `resume`).")
    @click.option("--print-config", is_flag=True, help="Print the resolved config as YAML and exit.")
    @click.argument("positional", nargs=-1, required=False)
    def cmd(config_path, overrides, out_dir, resume, print_config, positional):
        from ..training.config import to_yaml

        sets = list(overrides)
        if positional:
            if not legacy_overrides:
                raise click.UsageError(f"unexpected argument(s) {' '.join(positional)}; use --set KEY=VALUE")
            click.echo(f"warning: positional overrides are deprecated; write --set {positional[0]} "
                       f"(dfbench {family} train --set KEY=VALUE)", err=True)
            sets = list(positional) + sets
        if out_dir:
            sets.append(f"{_out_key(load)}={out_dir}")
        cfg = load(config_path, sets)
        if print_config:
            click.echo(to_yaml(cfg), nl=False)
            return
        result = run(cfg, resume)
        if result.is_main:
            click.echo(f"finished {result.epochs_done} epoch(s), {result.steps_done} step(s) "
                       f"({result.precision}, {result.world_size} process(es))")
            if result.best is not None:
                b = result.best
                click.echo(f"best epoch {b['epoch']}: {b['metric']} {b['value']:.4f} on {b['split']} "
                           f"-> {result.best_weights_dir}")

    return cmd


def classifier_group(detector: str, help: str) -> click.Group:
    """``dfbench <detector> train|export``: a frame classifier family trained by the core's generic
    :mod:`dfbench.training.classifier` task (the family brings a config, never a loop)."""

    @click.group(name=detector, help=help)
    def group() -> None:
        pass

    def load(path, overrides):
        from ..training.classifier import load_classifier_config

        return load_classifier_config(path, overrides, detector=detector)

    def run(cfg, resume):
        from ..training.classifier import train

        return train(cfg, resume=True if resume is None else resume)

    group.add_command(train_command(
        detector, load, run,
        help=f"Train {detector} on face crops (BCE on its fake logit, selection by held-out val AUC); "
             f"see docs/training.md. Run `dfbench -v {detector} train ...` to see progress."))

    group.add_command(export_command("float32"))
    return group


def export_command(default_dtype: str) -> click.Command:
    """``dfbench <family> export SRC DST``: re-save a training run's selected weights for shipping
    (:func:`dfbench.training.export.export_weights`), for any family trained by the core."""

    @click.command("export")
    @click.argument("src", type=click.Path(exists=True, file_okay=False))
    @click.argument("dst", type=click.Path(file_okay=False))
    @click.option("--dtype", type=click.Choice(["bfloat16", "float16", "float32"]), default=default_dtype,
                  show_default=True, help="Storage precision of the exported safetensors (the harness loads "
                                          "them into float32).")
    @click.option("--tag", default=None, help="Weights tag recorded in config.json (default: DST's directory name).")
    def export_cmd(src: str, dst: str, dtype: str, tag: str | None) -> None:
        """Re-save trained weights SRC (e.g. runs/x/best) to DST for shipping (card kept)."""
        from ..training.export import export_weights

        click.echo(f"wrote {export_weights(src, dst, dtype, tag=tag)}")

    return export_cmd


def _out_key(load: Callable) -> str:
    """The dotted key of the run directory in a family's config (``run.out_dir`` or ``out_dir``)."""
    cfg = load(None, [])
    return "run.out_dir" if hasattr(getattr(cfg, "run", None), "out_dir") else "out_dir"


__all__ = ["classifier_group", "export_command", "train_command"]
