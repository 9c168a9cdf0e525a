"""``dfbench datasets …`` and ``dfbench suite …``: thin click commands over the dataset engines.

- ``dfbench datasets check DATASET --data-root DIR``: counts, missing/unreadable files, duplicates and
  label-file problems on one screen (:mod:`dfbench.datasets.check`); exit 1 when anything is wrong.
- ``dfbench suite NAME -d DETECTOR``: run one detector over the datasets a paper reports and print
  the paper's numbers beside the measured ones (:mod:`dfbench.suites`).

Registered in :mod:`dfbench.cli` with ``cli.add_command`` like the other command modules; the
engines never import click.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .options import dataset_options, device_option


@click.group("datasets")
def datasets_cli() -> None:
    """Inspect dataset downloads."""


@datasets_cli.command("check")
@click.argument("dataset")
@click.option("--data-root", type=click.Path(file_okay=False), help="Where the dataset lives (else DFBENCH_<NAME>_ROOT).")
@click.option("--split", "splits", multiple=True, help="Split(s) to check (default: every split of the dataset).")
@click.option("--methods", help="Comma-separated fake methods (FF++).")
@click.option("--splits", "splits_dir", type=click.Path(file_okay=False), help="Directory with official split files (FF++).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Extra dataset option (repeatable).")
@click.option("--no-decode", is_flag=True, help="Only check headers; skip opening each video (faster).")
@click.option("--json", "as_json", is_flag=True, help="The full report as JSON (every file, not the first few).")
def check_cmd(dataset, data_root, splits, methods, splits_dir, options, no_decode, as_json):
    """Check a download: counts, missing/unreadable files, duplicates, label-file problems."""
    from ..datasets.check import check_dataset, format_report
    from ..registry import get_registry

    reg = get_registry()
    spec = reg.dataset(dataset)
    root = reg.pm.hook.resolve_dataset_root(spec=spec, data_dir=Path(data_root) if data_root else None)
    for s in splits:
        if s not in spec.splits:
            raise click.BadParameter(f"{spec.name} has the splits {', '.join(spec.splits)}", param_hint="--split")
    report = check_dataset(
        spec, root, list(splits) or None, dataset_options(methods, splits_dir, False, options), decode=not no_decode
    )
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        for line in format_report(report):
            click.echo(line)
    if not report["ok"]:
        raise SystemExit(1)


@click.command("suite")
@click.argument("name", required=False)
@click.option("--detector", "-d", help="Detector id, e.g. laanet, sbi (omit with --list).")
@click.option("--data-root", "data_roots", multiple=True, metavar="DATASET=DIR",
              help="Root of one dataset of the suite (repeatable; else DFBENCH_<NAME>_ROOT).")
@click.option("--reported", help="Leaderboard detector id of the paper's numbers (default: the suite's).")
@click.option("--leaderboard", "leaderboard_root", type=click.Path(file_okay=False), default="leaderboards",
              show_default=True, help="Where the reported entries are read from.")
@click.option("--allow-partial", is_flag=True, help="Evaluate incomplete downloads (marked PARTIAL).")
@click.option("--weights", help="Weights directory or hf://ORG/NAME@REVISION.")
@device_option
@click.option("--batch-size", default=16, show_default=True)
@click.option("--limit", type=int, help="Evaluate a stratified subset of N videos per dataset (not comparable).")
@click.option("--output", "-o", type=click.Path(file_okay=False), default="runs/suite", show_default=True)
@click.option("--list", "list_", is_flag=True, help="List the presets and their datasets.")
@click.option("--json", "as_json", is_flag=True)
def suite_cmd(name, detector, data_roots, reported, leaderboard_root, allow_partial, weights, device, batch_size,
              limit, output, list_, as_json):
    """Run a paper's cross-dataset protocol (laanet-cross, sbi-cross, dfb-cross): measured beside reported."""
    from ..suites import SUITES, format_suite, run_suite

    if list_ or not name:
        for s in SUITES.values():
            cols = ", ".join(f"{e.column}={e.dataset}" for e in s.entries)
            click.echo(f"{s.name:<14} {s.paper}: {cols}")
        return
    if not detector:
        raise click.UsageError("give the detector to run with -d/--detector")
    roots = {}
    for item in data_roots:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise click.BadParameter(f"expected DATASET=DIR, got {item!r}", param_hint="--data-root")
        roots[key] = value
    kwargs = {"weights": weights, "device": device, "batch_size": batch_size}
    if limit is not None:
        kwargs["limit"] = limit
    report = run_suite(name, detector, output=Path(output), data_roots=roots, leaderboard_root=leaderboard_root,
                       reported_id=reported, allow_partial=allow_partial, progress=not as_json, **kwargs)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        for line in format_suite(report):
            click.echo(line)
    if any(r.get("error") for r in report["rows"]):
        raise SystemExit(1)
