"""Option groups shared by several commands, defined once: dataset flags, device and precision,
and the input-contract flags of bring-your-own models.

``byo_options`` adds the contract flags to a command (``run``) without touching its signature:
the decorator consumes them and applies them to ``onnx:``/``torchscript:``/``py:`` ids resolved
while the command runs.
"""

from __future__ import annotations

import functools
import json

import click

from ..media.policy import MISSING_FACE_POLICIES as MISSING_FACE  # one list of rules

PRECISIONS = ("fp32", "bf16", "fp16", "fp64")


def echo_json(obj) -> None:
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


def device_option(f):
    """``--device`` (cpu by default), the same for every command that runs a model."""
    return click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, mps.")(f)


def precision_option(default: str = "fp32", *, auto: bool = False, help: str | None = None):
    """``--precision``: one vocabulary across the project (``auto`` only where a command can pick)."""
    choices = (("auto",) if auto else ()) + PRECISIONS
    return click.option("--precision", type=click.Choice(choices), default=default, show_default=True, help=help)


def speed_options(f):
    """How the model runs: ``--precision`` (auto), ``--channels-last``, ``--compile``, ``--backend``.

    One definition for ``run`` and ``robustness``, so a robustness grid runs each cell the way
    ``run`` would (issue 16: the default path is the fast path, checked against fp32)."""
    f = click.option("--backend", type=click.Choice(["auto", "torch", "openvino", "onnxruntime"]), default="auto",
                     show_default=True,
                     help="auto: with --precision auto, the exported model on OpenVINO where it is installed and "
                          "exportable (CPU; bf16 where native), else torch. openvino/onnxruntime: export to ONNX "
                          "(cached) and run there, logits checked against torch fp32.")(f)
    f = click.option("--compile", "compile_", is_flag=True, help="torch.compile the model (slow to start).")(f)
    f = click.option("--channels-last", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
                     is_flag=False, flag_value="on",
                     help="channels_last memory format (auto: on with auto or bf16/fp16 precision where it is "
                          "faster).")(f)
    return precision_option("auto", auto=True,
                            help="auto: the fastest precision whose logits stay within tolerance of fp32 (cached "
                                 "per detector and device); fp32 for exact comparisons.")(f)


def channels_last_value(flag: str) -> bool | str:
    """``--channels-last on|off|auto`` as the runner takes it."""
    return {"on": True, "off": False}.get(flag, "auto")


def missing_face_option(help: str):
    """``--missing-face``: the faceless-frame policy (default: the detector's official rule)."""
    return click.option("--missing-face", type=click.Choice(MISSING_FACE), help=help)


# Parameter names must not collide with the host command's (``run`` has ``--output``).
_BYO_PARAMS = ("input_size", "mean", "std", "cropper", "unit", "clip_length", "byo_output", "contract_file")


def byo_options(f):
    """Decorator: the input-contract flags of bring-your-own detectors (``--detector onnx:PATH``)."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        from ..zoo.byo import contract_overrides, is_byo_id

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


def parallel_options(f):
    """``--workers`` / ``--executor`` (issue 19), shared by ``run`` and ``robustness``."""
    f = click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="ray: prepare videos as Ray tasks on the cluster at RAY_ADDRESS (else a local Ray "
                          "with --workers CPUs, default 2); results are identical to a local run.")(f)
    f = click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Worker processes that decode, corrupt and crop (one thread each); 0: a thread "
                          "in this process. Results do not depend on it.")(f)
    return f
