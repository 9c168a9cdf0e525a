"""Command-line pieces for bring-your-own models and export, kept out of ``dfbench/cli.py``.

:func:`byo_options` adds the contract flags to a command (``run``) without touching its
signature: the decorator consumes them and applies them to ``onnx:``/``torchscript:``/``py:``
ids resolved while the command runs.
"""

from __future__ import annotations

import functools

import click

# ``byo_output``, not ``output``: run/predict have their own --output (-o) parameter of that name.
_BYO_PARAMS = ("input_size", "mean", "std", "cropper", "unit", "clip_length", "byo_output", "contract_file")


def byo_options(f):
    """Decorator: the input-contract flags of bring-your-own detectors (``--detector onnx:PATH``)."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        from .byo import contract_overrides, is_byo_id

        opts = {k: kwargs.pop(k, None) for k in _BYO_PARAMS}
        opts["output"] = {True: "logit", False: "prob"}.get(opts.pop("byo_output"))
        given = {k: v for k, v in opts.items() if v is not None}
        if given and not is_byo_id(kwargs.get("detector")):
            flags = ", ".join("--" + k.replace("_", "-").replace("contract-file", "contract")
                              .replace("output", "logit/--prob") for k in given)
            raise click.UsageError(f"{flags} only apply to bring-your-own detectors "
                                   "(--detector onnx:PATH, torchscript:PATH or py:module:factory)")
        with contract_overrides(**opts):
            return f(*args, **kwargs)

    group = [
        click.option("--contract", "contract_file", type=click.Path(exists=True, dir_okay=False),
                     help="BYO: input-contract YAML (default: <model>.yaml next to the model)."),
        click.option("--input-size", type=int, help="BYO: square input size in pixels."),
        click.option("--mean", help="BYO: per-channel mean of the [0, 1] input, e.g. 0.485,0.456,0.406."),
        click.option("--std", help="BYO: per-channel std, e.g. 0.229,0.224,0.225."),
        click.option("--cropper", help="BYO: face cropper (see `dfbench list croppers`)."),
        click.option("--unit", type=click.Choice(["frame", "clip"]), help="BYO: the model scores frames or clips."),
        click.option("--clip-length", type=int, help="BYO: frames per clip (--unit clip)."),
        click.option("--logit/--prob", "byo_output", default=None,
                     help="BYO: the model outputs logits (default) or probabilities."),
    ]
    for opt in reversed(group):
        wrapper = opt(wrapper)
    return wrapper


@click.command("export")
@click.argument("detector")
@click.option("--format", "fmt", type=click.Choice(["onnx", "torchscript"]), default="onnx", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Model file (default: <detector id>.onnx).")
@click.option("--weights", help="Weights directory or hf://ORG/NAME@REVISION (overrides the id's tag).")
def export_command(detector, fmt, output, weights):
    """Write a detector (with its weights) to ONNX or TorchScript plus its input-contract YAML."""
    from .export import export_detector

    path, sidecar = export_detector(detector, output, fmt=fmt, weights=weights)
    click.echo(f"wrote {path} and {sidecar}; score it with: dfbench run --detector {fmt}:{path} --dataset ...")
