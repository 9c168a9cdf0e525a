"""``dfbench run``, ``dfbench index`` and ``dfbench predict``: scoring commands over
:mod:`dfbench.runner`, :mod:`dfbench.indexing` and :mod:`dfbench.predict`."""

from __future__ import annotations

import sys

import click

from .options import (
    byo_options,
    channels_last_value,
    dataset_flags,
    dataset_options,
    device_option,
    echo_json,
    missing_face_option,
    parallel_options,
    precision_option,
    speed_options,
)


@click.command()
@byo_options  # --input-size/--mean/--std/--cropper/--unit/--logit|--prob for onnx:/torchscript:/py: ids
@click.option("--detector", "-d", required=True, help="Detector id, e.g. laanet, recce_gf.demo, onnx:model.onnx.")
@click.option("--dataset", "-s", required=True, help="Dataset id, e.g. cdf, ffpp_c23, demo.")
@dataset_flags
@click.option("--weights", help="Weights directory or hf://ORG/NAME@REVISION (overrides the id's tag).")
@click.option("--corruption", help="NAME:LEVEL, e.g. saturation:3 (see `dfbench list corruptions`).")
@click.option("--corrupt-crops", is_flag=True, help="Corrupt cached face crops instead of full frames (faster; recorded).")
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate a stratified subset of N videos (N >= 1).")
@click.option("--limit-percent", type=click.FloatRange(0, 100, min_open=True),
              help="Evaluate a stratified subset of P percent of the videos (0 < P <= 100).")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@device_option
@speed_options  # --precision auto, --channels-last, --compile, --backend (shared with robustness)
@click.option("--flip-test/--no-flip-test", default=None, help="Average logits with the mirrored crop (default: the detector's protocol).")
@click.option("--frames", "frames_per_video", type=click.IntRange(min=1),
              help="Frames per video (default: the detector's protocol).")
@click.option("--aggregation", type=click.Choice(["mean_logit", "mean_prob", "max"]), help="Video aggregation rule.")
@missing_face_option(help="Faceless frames: skip (drop; a faceless video fails), score_half (0.5), skip_half (drop; a "
                         "faceless video 0.5), fail (stop). "
                   "Default: the detector's official rule.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the crop cache.")
@click.option("--seed", default=0, show_default=True)
@click.option("--output", "-o", type=click.Path(file_okay=False), help="Run directory (re-run to resume).")
@click.option("--threshold-from", type=click.Path(exists=True, file_okay=False),
              help="A finished run on a VALIDATION split: report precision/recall/F1/ACC at the threshold chosen there.")
@click.option("--force-new", is_flag=True, help="Start over in --output even if it holds a run with another protocol.")
@click.option("--allow-untrained", is_flag=True, help="Score a detector without trained weights (flagged everywhere).")
@click.option("--json", "as_json", is_flag=True, help="Print results.json instead of the summary.")
@parallel_options  # --workers N / --executor ray (issue 19)
def run(detector, dataset, data_root, split, methods, splits_dir, allow_partial, options, weights, corruption,
        corrupt_crops, limit, limit_percent, batch_size, device, precision, channels_last, compile_, backend, flip_test,
        frames_per_video, aggregation, missing_face, no_cache, seed, output, threshold_from, force_new,
        allow_untrained, as_json, workers, executor):
    """Evaluate a detector on a dataset split and write results.json + predictions.parquet."""
    from ..results import summary_lines
    from ..runner import evaluate

    result = evaluate(
        detector, dataset, split=split, corruption=corruption, limit=limit, limit_percent=limit_percent,
        batch_size=batch_size, device=device, seed=seed, output=output, data_root=data_root,
        dataset_options=dataset_options(methods, splits_dir, allow_partial, options), weights=weights,
        precision=precision, channels_last=channels_last_value(channels_last), compile=compile_,
        backend=backend, flip_test=flip_test,
        aggregation=aggregation, frames_per_video=frames_per_video, missing_face=missing_face,
        corrupt_crops=corrupt_crops, use_cache=not no_cache, progress=not as_json, threshold_from=threshold_from,
        allow_untrained=allow_untrained, force_new=force_new, workers=workers, executor=executor,
    )
    if as_json:
        echo_json(result)
        return
    for line in summary_lines(result):
        click.echo(line)
    click.echo(f"written   {result.get('output_dir') or output or 'runs/'}")


@click.command()
@click.argument("dataset")
@dataset_flags
@click.option("--json", "as_json", is_flag=True, help="A JSON list of {key, label, method, path}.")
def index(dataset, data_root, split, methods, splits_dir, allow_partial, options, as_json):
    """Print exactly what would be evaluated: one row per video (key, label 1 = fake, method, path)."""
    from ..indexing import resolve_dataset_items

    spec, items, warnings = resolve_dataset_items(dataset, split, data_root=data_root,
                                                  options=dataset_options(methods, splits_dir, allow_partial, options))
    for w in warnings:
        click.secho(f"warning: {w}", fg="yellow", err=True)
    if as_json:
        echo_json([it.to_dict() for it in items])
        return
    for it in items:
        flag = "  [MISSING]" if it.meta.get("missing") else ""
        click.echo(f"{it.key}\t{it.label}\t{it.method}\t{it.path}{flag}")
    n_fake = sum(it.label for it in items)
    click.echo(f"# {len(items)} videos: {len(items) - n_fake} real, {n_fake} fake", err=True)


@click.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--detector", "-d", required=True)
@click.option("--weights", help="Weights directory or hf://ORG/NAME@REVISION.")
@device_option
@precision_option("fp32")
@missing_face_option(help="Faceless frames (default: the detector's official rule).")
@click.option("--explain", type=click.Path(file_okay=False), help="Write explanations (heatmaps, plots) here.")
@click.option("--allow-untrained", is_flag=True, help="Score a detector without trained weights (flagged).")
@click.option("--json", "as_json", is_flag=True)
def predict(path, detector, weights, device, precision, missing_face, explain, allow_untrained, as_json):
    """Fake probability of an image, a video or every media file in a folder.

    Exits with status 1 when no input could be scored."""
    from ..predict import predict_paths

    rows = predict_paths(path, detector, weights=weights, device=device, precision=precision,
                         missing_face=missing_face, explain_dir=explain, progress=not as_json,
                         allow_untrained=allow_untrained)
    failed_all = all(r["p_fake"] is None for r in rows)
    if as_json:
        echo_json(rows)
        if failed_all:
            sys.exit(1)
        return
    width = max([len(r["path"]) for r in rows] + [4])
    click.echo(f"{'path':<{width}}  p(fake)  units  note")
    for r in rows:
        p = f"{r['p_fake']:.4f}" if r["p_fake"] is not None else "  n/a "
        click.echo(f"{r['path']:<{width}}  {p}   {r['units']:>4}  {r.get('error') or ''}")
    if explain:
        click.echo(f"explanations written to {explain}")
    if failed_all:
        click.secho(f"error: none of the {len(rows)} input(s) could be scored (see the notes above)", fg="red", err=True)
        sys.exit(1)
