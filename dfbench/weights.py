"""dfbench's own weights format: ``model.safetensors`` + ``config.json`` in one directory.

``config.json`` carries the architecture (family, variant, model config) *and* the preprocessing
contract (the variant's input spec), so a weights directory says how it must be fed. Nothing is
ever unpickled here; official ``.pth`` files go through :func:`load_torch_checkpoint`, which uses
``weights_only=True`` and turns a refused pickle into a clear error.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .errors import WeightsError

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temp file in the same directory, fsync, then rename: never a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n").encode())


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_weights(detector, out_dir: str | Path, extra_config: dict | None = None) -> Path:
    """Save a detector's state dict as safetensors plus a config describing how to feed it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in detector.state_dict().items()}
    tmp = out / f".{WEIGHTS_FILE}.tmp{os.getpid()}"
    save_file(state, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, out / WEIGHTS_FILE)
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
    """Load ``model.safetensors`` and ``config.json``; verify the sha256 when one is pinned."""
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
    if expected_sha256:
        got = sha256_file(wfile)
        if got != expected_sha256:
            raise WeightsError(
                f"sha256 mismatch for {wfile}: expected {expected_sha256}, got {got}. The file was "
                f"changed or corrupted; refusing to load it. Re-download it or pin the new checksum."
            )
    config_file = wfile.parent / CONFIG_FILE
    config = json.loads(config_file.read_text()) if config_file.exists() else {}
    return load_file(str(wfile)), config


def load_torch_checkpoint(path: str | Path) -> Any:
    """Load an official ``.pth`` safely (``weights_only=True``): pickles that run code are refused."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"checkpoint not found: {path}") from None
    except Exception as e:  # torch raises UnpicklingError (or RuntimeError) for unsafe globals
        raise WeightsError(
            f"refusing to load {path}: it is not a plain tensor checkpoint ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:200]}). dfbench only loads checkpoints with weights_only=True, "
            f"because a pickle can run arbitrary code. If you trust the file, re-save its state dict "
            f"with torch.save(model.state_dict(), ...) in the environment that made it."
        ) from None


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
