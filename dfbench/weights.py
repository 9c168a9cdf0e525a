"""dfbench's own weights format: ``model.safetensors`` + ``config.json`` in one directory.

``config.json`` carries the architecture (family, variant, model config) *and* the preprocessing
contract (the variant's input spec), so a weights directory says how it must be fed. Nothing is
ever unpickled here; official ``.pth`` files go through :func:`load_torch_checkpoint`, which uses
``weights_only=True`` and turns a refused pickle into a clear error.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .errors import WeightsError, first_line
from .fileio import atomic_target, atomic_write_bytes, atomic_write_json, sha256_file
from .ids import format_id

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "atomic_write_bytes", "atomic_write_json", "check_architecture",
           "check_state_fits", "load_torch_checkpoint", "read_weights_dir", "resolve_source", "save_weights",
           "sha256_file", "unwrap_state_dict", "write_weights_file"]

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def write_weights_file(state: dict[str, torch.Tensor], out_dir: str | Path) -> Path:
    """``out_dir/model.safetensors`` from ``state``, written atomically; returns its path."""
    path = Path(out_dir) / WEIGHTS_FILE
    with atomic_target(path) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    return path


def save_weights(detector, out_dir: str | Path, extra_config: dict | None = None) -> Path:
    """Save a detector's state dict as safetensors plus a config describing how to feed it."""
    out = Path(out_dir)
    state = {k: v.detach().contiguous().cpu() for k, v in detector.state_dict().items()}
    write_weights_file(state, out)
    config = {
        "dfbench_format": 1,
        "detector": detector.spec.name,
        "variant": detector.variant.name,
        "model_config": dict(detector.variant.config),
        "input": detector.input_spec.to_dict(),
        "dtype": str(detector.param_dtype).replace("torch.", ""),
        "sha256": sha256_file(out / WEIGHTS_FILE),
    }
    config.update(extra_config or {})
    atomic_write_json(out / CONFIG_FILE, config)
    return out


def resolve_source(source: str) -> Path:
    """``package://pkg/sub/dir`` -> a path inside an installed package; other paths unchanged."""
    if source.startswith("package://"):
        pkg, _, sub = source[len("package://"):].partition("/")
        return Path(str(resources.files(pkg))) / sub
    return Path(source).expanduser()


def read_weights_dir(path: str | Path, expected_sha256: str | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """Load ``model.safetensors`` and ``config.json``; verify the sha256 pinned by the caller and
    the one recorded in ``config.json`` (either may be absent). Every failure is one
    :class:`WeightsError` line naming the file and the fix, never a library traceback."""
    d = Path(path)
    wfile = d / WEIGHTS_FILE if d.is_dir() else d
    if not wfile.exists():
        raise WeightsError(
            f"no weights at {wfile}. Pass --weights DIR holding {WEIGHTS_FILE} (write one with "
            f"`dfbench convert FAMILY OFFICIAL.pth DIR` or a training command)."
        )
    if wfile.suffix in (".pth", ".pt", ".ckpt", ".tar"):
        raise WeightsError(
            f"{wfile} is a torch checkpoint; convert it first: `dfbench convert FAMILY {wfile} OUT_DIR`."
        )
    config_file = wfile.parent / CONFIG_FILE
    config = read_config(config_file) if config_file.exists() else {}
    pins = [(expected_sha256, "the weights spec pins")] if expected_sha256 else []
    if config.get("sha256"):
        pins.append((str(config["sha256"]), f"{config_file} records"))
    if pins:
        got = sha256_file(wfile)
        for want, who in pins:
            if got != want:
                raise WeightsError(
                    f"sha256 mismatch for {wfile} ({wfile.stat().st_size} bytes): {who} {want}, the file hashes "
                    f"to {got}. The file was changed, truncated or corrupted; refusing to load it. Re-download "
                    f"or re-write it (`dfbench convert`), or, if the new file is intended, update the checksum.")
    try:
        state = load_file(str(wfile))
    except Exception as e:  # safetensors raises SafetensorError (header too large, truncated, ...)
        raise WeightsError(
            f"{wfile} is not a readable safetensors file ({type(e).__name__}: {first_line(e)}); it is probably "
            f"truncated or corrupted. Re-download it, or re-write it with `dfbench convert FAMILY OFFICIAL.pth DIR`."
        ) from None
    return state, config


def read_config(config_file: str | Path) -> dict:
    """``config.json`` of a weights directory, or a one-line error naming it."""
    config_file = Path(config_file)
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WeightsError(
            f"{config_file} is not valid JSON ({first_line(e)}). Restore it from where the weights came from, "
            f"or re-write the directory with `dfbench convert`; delete it only to load the weights without "
            f"their recorded architecture and checksum."
        ) from None
    if not isinstance(config, dict):
        raise WeightsError(f"{config_file} must hold a JSON object, found {type(config).__name__}; restore it "
                           f"from where the weights came from")
    return config


def check_architecture(config: dict, family: str, variant: str, source: str, known_ids: list[str] | None = None) -> None:
    """Refuse weights whose ``config.json`` names another family or variant than the detector id.

    The family is checked first: advising ``laanet_<variant>`` for RECCE weights would name a
    detector that does not exist. Suggestions are only made for ids in ``known_ids``.
    """
    fam = config.get("detector")
    var = config.get("variant")
    if fam and fam != family:
        want = format_id(fam, var)
        hint = (f"use --detector {want}" if known_ids is None or want in known_ids or fam in known_ids
                else f"no installed plugin provides {want!r}; install the {fam} plugin")
        raise WeightsError(f"weights at {source} are for the {fam!r} family (config.json says detector {fam!r}), "
                           f"not {family!r}: {hint}, or pass --weights with {family} weights")
    if var and var != variant:
        want = format_id(family, var)
        if known_ids is not None and want not in known_ids:
            raise WeightsError(f"weights at {source} are for variant {var!r} of {family}, which this installation "
                               f"does not know (config.json); update the {family} plugin or pass other --weights")
        raise WeightsError(f"weights at {source} are for variant {var!r}, not {variant!r}; use --detector {want}")


def check_state_fits(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor], source: str,
                     det_id: str) -> None:
    """Missing, unexpected or mis-shaped tensors as one error, before ``load_state_dict`` raises its own
    multi-line ``size mismatch`` traceback."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shaped = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
              for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or shaped):
        return
    parts = []
    for title, items in (("mis-shaped", shaped), ("missing", missing), ("unexpected", unexpected)):
        if items:
            more = f" (+{len(items) - 4} more)" if len(items) > 4 else ""
            parts.append(f"{len(items)} {title}: {'; '.join(items[:4])}{more}")
    raise WeightsError(f"weights at {source} do not fit {det_id} ({', '.join(parts)}). They were made for another "
                       f"variant or model version: pick the matching --detector id or re-convert the official "
                       f"checkpoint with `dfbench convert`.")


def load_torch_checkpoint(path: str | Path) -> Any:
    """Load an official ``.pth`` safely (``weights_only=True``): pickles that run code are refused.

    PyTorch's own refusal suggests re-running with ``weights_only=False``; that advice is never
    passed on (it would run the file's code), only the offending global is named.
    """
    import pickle
    import re

    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"checkpoint not found: {p}; pass the path of the official .pth/.pt file")
    try:
        return torch.load(str(p), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # the weights-only unpickler met a global it does not allow
        found = re.search(r"GLOBAL\s+([A-Za-z_][\w.]*)", str(e))
        what = f" (it references the Python object `{found.group(1)}`)" if found else ""
        raise WeightsError(
            f"refusing to load {p}: it pickles Python objects, not only tensors{what}. dfbench loads checkpoints "
            f"with weights_only=True only, because a pickle can run arbitrary code. If you trust the file, "
            f"re-save just its state dict (torch.save(model.state_dict(), PATH)) in the environment that made it, "
            f"then run `dfbench convert` on that."
        ) from None
    except Exception as e:  # noqa: BLE001 - zip/stream errors of a truncated or non-torch file
        raise WeightsError(
            f"{p} is not a readable torch checkpoint ({type(e).__name__}: {_sanitise(first_line(e))}); it is "
            f"probably truncated or not a .pth file. Re-download it and compare its checksum with the source."
        ) from None


def _sanitise(text: str) -> str:
    """Drop PyTorch's ``weights_only=False`` suggestion from a quoted message."""
    return text.split("Re-running")[0].split("(1)")[0].strip() or "unreadable"


def unwrap_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    """Accept a bare state dict or a training checkpoint; strip ``module.`` (DataParallel) prefixes."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model", "net"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise WeightsError(f"expected a state dict, got {type(obj).__name__}")
    out = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            continue
        while k.startswith("module."):
            k = k[len("module."):]
        out[k] = v
    return out
