"""``dfbench figures``: re-draw a robustness run (:mod:`dfbench.figures`) on the command line."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("figures")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--title", default="", help="Figure title (default: detector and dataset).")
def figures_command(directory, title):
    """Re-draw a `dfbench robustness` output DIRECTORY as robustness_grid.png (paper) and robustness.html."""
    import json

    from ..errors import DfbenchError
    from ..figures import robustness_figures

    p = Path(directory) / "robustness.json"
    if not p.exists():
        raise DfbenchError(f"{directory}: no robustness.json; pass the --output directory of `dfbench robustness`")
    doc = json.loads(p.read_text())
    if not doc.get("robustness"):
        raise DfbenchError(f"{p}: no corrupted cells to draw")
    ds = doc.get("dataset") or {}
    title = title or f"{(doc.get('detector') or {}).get('id', '')} on {ds.get('id', '')}/{ds.get('split', '')}"
    for kind, path in robustness_figures(doc, directory, title).items():
        click.echo(f"{kind:<5} {path}")
