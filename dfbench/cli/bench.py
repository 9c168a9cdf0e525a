"""``dfbench bench``: the throughput protocol of :mod:`dfbench.bench` on the command line."""

from __future__ import annotations

import tempfile
from typing import Any

import click

from .options import device_option


@click.command("bench")
@click.option(
    "--detector",
    "-d",
    "detectors",
    required=True,
    multiple=True,
    help="Detector id (repeatable); 'all' = every installed family, 'all:test' = their test variants.",
)
@click.option(
    "--weights", help="Weights directory or hf://ORG/NAME@REVISION (speed does not depend on them)."
)
@click.option(
    "--batch-size", default=8, show_default=True, help="Batch size of the throughput runs."
)
@click.option(
    "--precisions",
    help="Comma-separated, e.g. fp32,bf16 (default: fp32 + what the device runs natively).",
)
@click.option(
    "--channels-last", type=click.Choice(["both", "on", "off"]), default="both", show_default=True
)
@click.option(
    "--compile",
    "compile_",
    is_flag=True,
    help="Also time torch.compile of the fastest configuration.",
)
@click.option("--backends", help="Comma-separated exported runtimes to time as well, e.g. openvino,onnxruntime "
              "(default: those --backend auto would try; 'torch' for torch only).")
@device_option
@click.option("--threads", type=int, help="torch intra-op threads (default: torch's choice).")
@click.option("--iters", default=10, show_default=True, help="Timed batches per configuration and round.")
@click.option(
    "--repeats",
    default=3,
    show_default=True,
    help="Rounds per configuration (taking turns); rows report min/median/max and flag > 25 % spread.",
)
@click.option("--warmup", default=2, show_default=True, help="Untimed batches per configuration.")
@click.option(
    "--latency-iters",
    default=20,
    show_default=True,
    help="Timed batch-1 calls for the latency percentiles.",
)
@click.option(
    "--video",
    type=click.Path(exists=True),
    help="Video for the end-to-end figure (default: generated 10-s 640x360).",
)
@click.option(
    "--no-e2e", is_flag=True, help="Skip the end-to-end (decode + faces + model) measurement."
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write the JSON here (default: print it).",
)
def bench_command(
    detectors,
    weights,
    batch_size,
    precisions,
    channels_last,
    compile_,
    backends,
    device,
    threads,
    iters,
    repeats,
    warmup,
    latency_iters,
    video,
    no_e2e,
    output,
):
    """Params, GMACs, latency, throughput per runtime/precision/layout, peak memory and end-to-end videos/s."""
    import json

    if threads:
        import torch

        torch.set_num_threads(threads)
    layouts = {"both": (False, True), "on": (True,), "off": (False,)}[channels_last]
    precs = [p.strip() for p in precisions.split(",") if p.strip()] if precisions else None
    runtimes = [b.strip() for b in backends.split(",") if b.strip()] if backends else None
    from ..bench import bench_detector, expand_detectors, summary_lines

    ids = expand_detectors(detectors)
    results = []
    with tempfile.TemporaryDirectory(prefix="dfbench-bench-") as tmp:
        for det_id in ids:
            results.append(
                bench_detector(
                    det_id,
                    weights=weights,
                    batch_size=batch_size,
                    precisions=precs,
                    channels_last=layouts,
                    compile=compile_,
                    backends=runtimes,
                    device=device,
                    warmup=warmup,
                    iters=iters,
                    repeats=repeats,
                    latency_iters=latency_iters,
                    end_to_end=not no_e2e,
                    video=video,
                    video_dir=tmp,
                )
            )
    doc: Any = results[0] if len(results) == 1 else results
    text = json.dumps(doc, indent=2, default=str)
    if not output:
        click.echo(text)
        return
    from ..fileio import atomic_write_bytes

    atomic_write_bytes(output, (text + "\n").encode())
    for res in results:
        for line in summary_lines(res):
            click.echo(line)
    click.echo(f"written   {output}")
