"""``dfbench convert``, ``dfbench export`` and ``dfbench new-plugin``: weights in, models out,
and a skeleton for a new detector family."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("family")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--variant", help="Variant to convert into (default: the family's default).")
@click.option("--dtype", type=click.Choice(["float32", "float64", "bfloat16"]), default=None,
              help="Storage dtype of the weights (default: the checkpoint's own).")
def convert(family, checkpoint, out_dir, variant, dtype):
    """Convert an official checkpoint (.pth) into dfbench weights (safetensors + config.json),
    recording the source file's sha256 and the family's licence."""
    from ..convert import convert_official

    out = convert_official(family, checkpoint, out_dir, variant=variant, dtype=dtype)
    click.echo(f"wrote {out}/model.safetensors and config.json; use --weights {out}")


@click.command("new-plugin")
@click.argument("name")
@click.option("--output", "-o", type=click.Path(file_okay=False), default=".", show_default=True)
def new_plugin(name, output):
    """Write a skeleton plugin package (detector + dataset + corruption) that passes the contract checks."""
    from ..scaffold import write_plugin_skeleton

    root = write_plugin_skeleton(name, Path(output))
    click.echo(f"wrote {root}; install it with `pip install -e {root}` and run `pytest {root}`")


@click.command("export")
@click.argument("detector")
@click.option("--format", "fmt", type=click.Choice(["onnx", "torchscript"]), default="onnx", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Model file (default: <detector id>.onnx).")
@click.option("--weights", help="Weights directory or hf://ORG/NAME@REVISION (overrides the id's tag).")
def export_command(detector, fmt, output, weights):
    """Write a detector (with its weights) to ONNX or TorchScript plus its input-contract YAML."""
    from ..zoo.export import export_detector

    path, sidecar = export_detector(detector, output, fmt=fmt, weights=weights)
    click.echo(f"wrote {path} and {sidecar}; score it with: dfbench run --detector {fmt}:{path} --dataset ...")
