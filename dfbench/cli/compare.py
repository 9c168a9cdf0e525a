"""``dfbench compare``: side-by-side runs (:mod:`dfbench.compare`) on the command line."""

from __future__ import annotations

import click


@click.command("compare")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--output", "-o", type=click.Path(file_okay=False), default="runs/compare", show_default=True,
              help="Where roc.png, pr.png and comparison.json go.")
@click.option("--bootstrap", "n_bootstrap", default=2000, show_default=True, help="Bootstrap resamples for the paired test.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare_cmd(run_dirs, output, n_bootstrap, seed, as_json):
    """Compare finished runs side by side, with overlaid ROC/PR plots and a paired AUC test."""
    import json

    from ..compare import compare_runs, format_comparison

    report = compare_runs(list(run_dirs), output, n_bootstrap=n_bootstrap, seed=seed)
    click.echo(json.dumps(report, indent=2, default=str) if as_json else format_comparison(report))

