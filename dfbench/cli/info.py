"""``dfbench list``, ``dfbench plugins`` and ``dfbench results show``: what is installed, what ran."""

from __future__ import annotations

from fnmatch import fnmatch

import click

from .options import echo_json


@click.command("list")
@click.argument("kind", type=click.Choice(["detectors", "datasets", "corruptions", "croppers"]))
@click.argument("pattern", required=False)
@click.option("--json", "as_json", is_flag=True)
def list_(kind, pattern, as_json):
    """List registered detectors, datasets, corruptions or croppers (PATTERN: a glob)."""
    from ..catalog import catalog_rows

    rows = [r for r in catalog_rows(kind) if not pattern or fnmatch(r["name"], pattern) or pattern in r["name"]]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"no {kind} match {pattern!r}" if pattern else f"no {kind} registered")
        return
    for r in rows:
        click.echo(f"{r['name']:<28} {r.get('summary', '')}")
        for line in r.get("details", ()):  # detectors: paper, weights licence, input contract
            click.echo(f"{'':<30}{line}")


@click.command()
@click.option("--json", "as_json", is_flag=True)
def plugins(as_json):
    """Show the loaded plugins, their distributions and hooks (and any that failed to load)."""
    from ..plugins import plugin_info
    from ..registry import get_registry

    rows = plugin_info(get_registry().pm)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        where = f"{r['distribution']} {r['version']}" if r["distribution"] else ""
        state = click.style(f"FAILED: {r['error']}", fg="red") if r["error"] else ", ".join(r["hooks"])
        click.echo(f"{r['name']:<22} {where:<28} {state}")


@click.group()
def results():
    """Inspect finished runs."""


@results.command("show")
@click.argument("run_dir", type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True)
def results_show(run_dir, as_json):
    """Summarise a run directory's results.json (an unfinished run: how far it got)."""
    from ..results import load_results, summary_lines

    res = load_results(run_dir)
    if as_json:
        echo_json(res)
        return
    for line in summary_lines(res):
        click.echo(line)
