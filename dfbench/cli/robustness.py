"""``dfbench robustness``: the corruption grid of :mod:`dfbench.robustness` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .options import (
    channels_last_value,
    dataset_flags,
    dataset_options,
    device_option,
    missing_face_option,
    parallel_options,
    speed_options,
)


@click.command("robustness")
@click.option("--detector", "-d", required=True, help="Detector id, e.g. laanet, recce_gf.demo.")
@click.option("--dataset", "-s", required=True, help="Dataset id, e.g. ffpp_c23, demo.")
@click.option(
    "--suite",
    default="df1.0",
    show_default=True,
    help="Suite tag (df1.0) or comma-separated types / NAME:LEVEL items, e.g. 'blur,noise'.",
)
@click.option("--levels", default=None, help="Levels to run, e.g. '1-5' or '1,3,5' (default: all).")
@dataset_flags  # --data-root, --split, --methods, --splits, --allow-partial, --option: as for `run`
@click.option("--weights", help="Weights directory or hf://ORG/NAME@REVISION.")
@click.option(
    "--corrupt-crops",
    is_flag=True,
    help="Corrupt cached face crops instead of full frames (much faster; a different, recorded protocol).",
)
@click.option(
    "--reference",
    type=click.Path(exists=True),
    help="robustness.json (or its directory) of a reference detector: adds an mCE-style ratio.",
)
@click.option("--limit", type=click.IntRange(min=1), help="A stratified subset of N videos (quick checks).")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@device_option
@speed_options  # the same as `run`: every cell runs the way `run` would
@missing_face_option(help="Faceless frames (default: the detector's official rule); applies to every cell.")
@click.option("--allow-untrained", is_flag=True, help="Score a detector without trained weights (flagged).")
@click.option("--force-new", is_flag=True, help="Start every cell over in --output even if it holds a run with another protocol.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the crop cache.")
@click.option(
    "--seed",
    default=0,
    show_default=True,
    help="Run seed; corruption seeds derive from it per video.",
)
@click.option("--no-plot", is_flag=True, help="Skip robustness.png.")
@click.option(
    "--output", "-o", type=click.Path(file_okay=False), help="Output directory (re-run to resume)."
)
@click.option("--json", "as_json", is_flag=True, help="Print robustness.json instead of the table.")
@parallel_options  # --workers N / --executor ray: every cell's videos (issue 19)
def robustness_command(
    detector,
    dataset,
    suite,
    levels,
    data_root,
    split,
    methods,
    splits_dir,
    allow_partial,
    options,
    weights,
    corrupt_crops,
    reference,
    limit,
    batch_size,
    device,
    precision,
    channels_last,
    compile_,
    backend,
    missing_face,
    allow_untrained,
    force_new,
    no_cache,
    seed,
    no_plot,
    output,
    as_json,
    workers,
    executor,
):
    """Clean + every (corruption type, level): CSV, summary JSON and an AUC-vs-level plot."""
    from ..robustness import (
        CSV_FILE,
        JSON_FILE,
        PLOT_FILE,
        parse_levels,
        run_robustness,
        summary_lines,
    )

    out = Path(output) if output else Path("runs") / "robustness" / f"{detector}-{dataset}-{split}"
    doc = run_robustness(
        detector,
        dataset,
        out,
        suite=suite,
        levels=parse_levels(levels),
        split=split,
        seed=seed,
        corrupt_crops=corrupt_crops,
        weights=weights,
        reference=reference,
        make_plot=not no_plot,
        progress=not as_json,
        data_root=data_root,
        limit=limit,
        batch_size=batch_size,
        device=device,
        precision=precision,
        channels_last=channels_last_value(channels_last),
        compile=compile_,
        backend=backend,
        missing_face=missing_face,
        allow_untrained=allow_untrained,
        force_new=force_new,
        workers=workers,
        executor=executor,
        use_cache=not no_cache,
        dataset_options=dataset_options(methods, splits_dir, allow_partial, options),
    )
    if as_json:
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    for line in summary_lines(doc):
        click.echo(line)
    click.echo(
        f"written   {out / CSV_FILE}, {out / JSON_FILE}"
        + ("" if no_plot else f", {out / PLOT_FILE}")
    )
