"""``dfbench leaderboard add|validate|render``: thin commands over :mod:`dfbench.leaderboard`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..leaderboard.cost import add_bench_locked, bench_documents
from ..leaderboard.entries import DEFAULT_ROOT, LeaderboardError, validate_tree
from ..leaderboard.render import render_tree
from ..leaderboard.update import _add_result, _render, locked

_root = click.option("--root", type=click.Path(file_okay=False), default=DEFAULT_ROOT, show_default=True,
                     help="Leaderboard directory.")


@click.group("leaderboard")
def leaderboard_cli() -> None:
    """Leaderboard entries: reported numbers beside dfbench's measured ones."""


@leaderboard_cli.command("add")
@click.argument("results_json", nargs=-1, required=True, type=click.Path(exists=True))
@_root
@click.option("--detector-id", help="File the run (or the bench cost) under this id, e.g. to sit beside a "
                                    "reported entry.")
@click.option("--protocol", help="Protocol directory (default: video_train-<training set of the weights>).")
@click.option("--trained-on", help="Training set, when the weights do not say.")
@click.option("--no-render", is_flag=True, help="Do not re-render README.md/index.html.")
@click.option("--rank/--no-rank", default=None,
              help="Rank the entry (or not) regardless of its flags. Default: entries flagged subset, "
                   "partial-dataset or other-protocol are shown but not ranked.")
def add(results_json, root, detector_id, protocol, trained_on, no_render, rank):
    """Create or update entries from results.json files (or run directories) and `dfbench bench` JSONs.

    Clean runs first: a corrupted run adds a robustness point to the clean run's entry, and a bench
    JSON (detected by its keys) adds its cost (params, GMACs, throughput, videos/s, hardware) to every
    measured entry of its detector.
    """
    from ..results import load_results

    runs, benches = [], []
    for p in results_json:
        doc = _read_json(p)
        docs = bench_documents(doc) if doc is not None else None
        if docs:
            benches.append((p, docs))
        else:
            runs.append(load_results(p))
    runs.sort(key=lambda r: r.get("corruption") is not None)  # clean entries must exist before robustness points
    # One lock for the whole command: another `leaderboard add` (say, a bench cost for the same
    # entry) waits instead of reading a file this one is about to replace.
    with locked(root):
        for r in runs:
            path = _add_result(r, root, detector_id=detector_id, protocol=protocol, trained_on=trained_on, rank=rank)
            click.echo(f"updated {path}")
        for p, docs in benches:  # after the runs: cost attaches to measured entries
            for path in add_bench_locked(docs, root, detector_id=detector_id):
                click.echo(f"cost from {p} -> {path}")
        if not no_render:
            for p in _render(root):
                click.echo(f"rendered {p}")


def _read_json(path: str):
    """The parsed file, or None for a run directory (load_results finds its results.json)."""
    p = Path(path)
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise LeaderboardError(f"{p}: not valid JSON ({e}); pass a results.json, a run directory or a "
                               f"`dfbench bench --output` file") from e


@leaderboard_cli.command("validate")
@_root
def validate(root):
    """Check every entry against the schema and the placement/flag rules."""
    n, problems = validate_tree(root)
    if problems:
        raise LeaderboardError(f"{len(problems)} problem(s) in {n} entries:\n  " + "\n  ".join(problems))
    click.echo(f"{n} entries valid in {Path(root)}")


@leaderboard_cli.command("render")
@_root
@click.option("--check", is_flag=True, help="Fail if README.md/index.html differ from a fresh render.")
def render(root, check):
    """Write README.md and index.html from the JSON entries."""
    if check:
        paths = render_tree(root, check=True)
    else:
        with locked(root):
            paths = render_tree(root)
    click.echo("leaderboard pages are up to date" if check else "\n".join(f"rendered {p}" for p in paths))
