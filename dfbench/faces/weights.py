"""Where face-model weights come from: a user path, an environment variable or ``hf://ORG/NAME@REV``.

Face detectors and landmark models are third-party releases (RetinaFace, FAN) that cannot ship
with dfbench and that nothing downloads at run time. :func:`resolve_model_file` finds the file a
user supplied and :func:`load_state_dict` reads it safely (safetensors, or ``torch.load`` with
``weights_only=True``). The sha256 of the file is returned with it so the crop recipe (and thus
the run protocol and ``results.json``) can name exactly which weights produced the crops.

Hub references go through the project's own resolution code (:mod:`dfbench.hub`): its cache,
``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` apply. Release files carry no sha256 pin, so unlike
detector weights they are not refused unpinned; their checksum is recorded instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import WeightsError


@dataclass(frozen=True)
class ModelFile:
    """A resolved weights file: local path, where it came from, and its sha256."""

    path: Path
    source: str
    sha256: str


def _sha256(path: Path) -> str:
    from ..weights import sha256_file

    return sha256_file(path)


def resolve_model_file(source: str | os.PathLike | None, *, env: str, candidates: tuple[str, ...],
                       what: str, where: str) -> ModelFile:
    """The weights file for ``what``: ``source``, else ``$env``; a clear error when neither is set.

    ``source`` may be a file, a directory holding one of ``candidates`` (tried in order), or
    ``hf://ORG/NAME@REV`` (the first of ``candidates`` present in the repository). ``where`` tells
    the user where the official file can be obtained.
    """
    value = str(source) if source else os.environ.get(env, "")
    if not value:
        raise WeightsError(
            f"no weights for {what}: pass a path or hf://ORG/NAME@REV, or set {env}. "
            f"Get the file ({' or '.join(candidates)}) from {where}."
        )
    if value.startswith("hf://"):
        return _from_hub(value, candidates, what, where)
    path = Path(value).expanduser()
    if path.is_dir():
        for name in candidates:
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise WeightsError(f"{path} holds none of {', '.join(candidates)} for {what}; get it from {where}")
    if not path.is_file():
        raise WeightsError(f"weights file {path} for {what} not found (from {value!r}); get it from {where}")
    return ModelFile(path, value, _sha256(path))


def _from_hub(value: str, candidates: tuple[str, ...], what: str, where: str) -> ModelFile:
    from ..hub import _hub_file, parse_hf_source

    ref = parse_hf_source(value)
    for name in candidates:
        found = _hub_file(ref, name, None, None, required=False)
        if found:
            path = Path(found)
            return ModelFile(path, f"{ref.source}/{name}", _sha256(path))
    raise WeightsError(f"{ref.source} has none of {', '.join(candidates)} for {what} (or it is not cached "
                       f"and the Hub is offline); upload the file from {where}")


def load_state_dict(path: str | os.PathLike, *, what: str) -> dict[str, Any]:
    """Tensors of a checkpoint, loaded without executing pickled code.

    Accepts safetensors, a plain state dict, or a dict wrapping one under ``state_dict`` /
    ``model`` / ``net`` (common training-script layouts).
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path)))
    import torch

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # pickle.UnpicklingError for code-carrying pickles, zip errors, ...
        raise WeightsError(f"cannot load {path} safely as {what} weights (weights_only=True): "
                           f"{str(e).splitlines()[0]}; convert it to safetensors or a plain state dict") from None
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "net"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise WeightsError(f"{path} is not a state dict for {what}")
    return dict(obj)


def strip_prefixes(state_dict: dict[str, Any], prefixes: tuple[str, ...] = ("module.", "model.")) -> dict[str, Any]:
    """Drop DataParallel's ``module.`` (the RetinaFace release files) and a wrapper's ``model.``."""
    out = dict(state_dict)
    for prefix in prefixes:
        if out and all(k.startswith(prefix) for k in out):
            out = {k[len(prefix):]: v for k, v in out.items()}
    return out
