"""``dfbench prepare`` (fill the crop cache) and ``dfbench faces`` (a contact sheet of the crops).

Core commands over :mod:`dfbench.media.prepare` and :mod:`dfbench.media.contact_sheet`; heavy
imports happen inside the command bodies so ``dfbench --help`` stays instant.
"""

from __future__ import annotations

import click


@click.command("prepare")
@click.argument("dataset")
@click.option("--data-root", type=click.Path(file_okay=False), default=None,
              help="Dataset root (else the plugin's resolver / DFBENCH_<NAME>_ROOT).")
@click.option("--detector", "-d", "detector", default=None,
              help="Prepare exactly the crops this detector's protocol needs (cropper, size, frames).")
@click.option("--cropper", "cropper_name", default=None, help="Registered cropper (dfbench list croppers).")
@click.option("--split", default="test", show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="Parallel processes (or Ray tasks).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local = process pool; ray = Ray tasks (RAY_ADDRESS or a local instance).")
@click.option("--size", type=int, default=None, help="Crop size (default: the cropper's detectors' size).")
@click.option("--frames", "frames_per_video", type=int, default=None,
              help="Frames per video (frame unit) or frame limit (clip unit).")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Cache root (default $DFBENCH_CACHE/crops or ~/.cache/dfbench/crops).")
@click.option("--limit", type=int, default=None, help="Only the first N videos (sorted by key).")
@click.option("--retry-failed", is_flag=True, help="Retry videos recorded as failed.")
@click.option("--face-detector", type=click.Choice(["retinaface", "mtcnn", "dlib"]), default=None,
              help="Face detector of an official-recipe cropper (default: RetinaFace when its weights are "
                   "present, else the recipe's offline fallback). dlib croppers accept only dlib.")
def prepare_command(dataset, data_root, detector, cropper_name, split, workers, executor, size, frames_per_video,
                    cache_dir, limit, retry_failed, face_detector):
    """Precompute face crops of DATASET into the crop cache (resumable; `dfbench run` reuses it).

    With --detector the cache is exactly the one `dfbench run -d DETECTOR` reads; with --cropper
    the cropper's default size and sampling are used (override with --size / --frames).
    """
    from dataclasses import replace
    from pathlib import Path

    from ..errors import DfbenchError
    from ..indexing import resolve_dataset_items
    from ..media.prepare import input_for_cropper, prepare, with_face_detector
    from ..registry import get_registry

    reg = get_registry()
    if (detector is None) == (cropper_name is None):
        raise click.UsageError("pass exactly one of --detector or --cropper")
    max_frames = None
    if detector is not None:
        resolved = reg.resolve_detector(detector)
        det_input = resolved.variant.input
    else:
        reg.cropper(cropper_name)  # unknown name -> "did you mean" error before indexing anything
    spec, items, warnings = resolve_dataset_items(dataset, split, data_root=data_root, registry=reg)
    for w in warnings:
        click.secho(f"warning: {w}", fg="yellow", err=True)
    items = [it for it in sorted(items, key=lambda it: it.key) if not it.meta.get("missing")]
    if limit:
        items = items[:limit]
    overrides = {}
    if size:
        overrides["size"] = size
    if frames_per_video is not None:
        overrides["frames_per_video"] = frames_per_video
    if detector is not None:
        cropper_name = "precropped" if spec.precropped else det_input.cropper
        input_spec = replace(det_input, **overrides) if overrides else det_input
        # The same frame cap the runner applies (e.g. LipForensics' first 110 frames on FF++).
        max_frames = resolved.spec.build(resolved.variant.name).max_frames_for(spec.name) or None
    else:
        input_spec = input_for_cropper(cropper_name, **overrides)
    if face_detector:
        input_spec = with_face_detector(input_spec, face_detector, reg)
    if spec.precropped and cropper_name != "precropped":
        raise DfbenchError(f"{spec.name} ships face crops: prepare it with --cropper precropped (or --detector)")
    from ..fileio import cache_root

    root = Path(cache_dir) if cache_dir else cache_root("crops")
    report = prepare(items, cropper_name, input_spec, root, dataset=spec.name, version=spec.version,
                     workers=workers, executor=executor, progress=True, retry_failed=retry_failed,
                     max_frames=max_frames)
    click.echo(f"cache: {report.cache_dir}")
    click.echo(f"videos: {report.n_videos} ({report.n_cached} already cached, {report.n_processed} processed, "
               f"{report.n_failed} failed); frames: {report.n_frames}, without a face: {report.n_missing_faces}")
    if report.n_processed:
        click.echo(f"speed: {report.videos_per_minute:.1f} videos/min")
    for key, reason in list(report.failures.items())[:20]:
        click.echo(f"  failed {key}: {reason}")


@click.command("faces")
@click.argument("video", type=click.Path(exists=True, dir_okay=True))
@click.option("--detector", "-d", default=None, help="Show the crops this detector receives (its cropper and size).")
@click.option("--cropper", "cropper_name", default=None, help="A registered cropper instead of a detector's.")
@click.option("--face-detector", type=click.Choice(["retinaface", "mtcnn", "dlib"]), default=None,
              help="Face detector of an official-recipe cropper.")
@click.option("--frames", "n_frames", type=int, default=6, show_default=True, help="Frames on the sheet.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="PNG path (default: VIDEO's name + .faces.png in the current directory).")
def faces_command(video, detector, cropper_name, face_detector, n_frames, output):
    """Contact sheet of VIDEO: sampled frames with face boxes and the crops the detector receives."""
    from pathlib import Path

    from ..media.contact_sheet import contact_sheet
    from ..media.prepare import with_face_detector
    from ..registry import get_registry

    reg = get_registry()
    if detector and cropper_name:
        raise click.UsageError("pass --detector or --cropper, not both")
    if detector:
        input_spec = reg.resolve_detector(detector).variant.input
    else:
        from ..media.prepare import input_for_cropper

        input_spec = input_for_cropper(cropper_name or "dlib_align")
    if face_detector:
        input_spec = with_face_detector(input_spec, face_detector, reg)
    cropper, _ = reg.build_cropper(input_spec.cropper, input_spec.crop_settings)
    out = Path(output) if output else Path(Path(video).name + ".faces.png")
    summary = contact_sheet(video, cropper, input_spec.size, out, n_frames=n_frames)
    click.echo(f"wrote {out}: {summary}")
