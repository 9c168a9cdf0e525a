"""Re-save trained weights for shipping (``dfbench <family> export``): storage dtype, card, tag.

Any family's ``OUT/best`` (written by the training core) goes through here before it is packaged.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from ..weights import atomic_write_json

log = logging.getLogger(__name__)


def export_weights(src: str | Path, dst: str | Path, dtype: str = "bfloat16", card: dict | None = None,
                   tag: str | None = None) -> Path:
    """Re-save trained weights (``out_dir/best``) for shipping, e.g. as bfloat16 to halve the size.

    The harness loads them into a float32 network (``load_state_dict`` casts), so only storage
    precision changes; ``config.json`` records both and pins the new file's sha256. ``tag`` is the
    weights tag :func:`dfbench.packaged.packaged_weights` reports (default: the directory name).
    The training record keeps only the run directory's name: an absolute path of the machine that
    trained says nothing to a user and leaks local layout into a shipped file.
    """
    import json

    from ..weights import CONFIG_FILE, read_weights_dir, sha256_file, write_weights_file

    state, config = read_weights_dir(src)
    torch_dtype = getattr(torch, dtype)
    out = Path(dst)
    state = {k: (v.to(torch_dtype) if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    weights_file = write_weights_file(state, out)
    os.chmod(weights_file, 0o644)  # safetensors writes 0600; shipped files must be readable
    config.update({"dtype": "float32", "stored_dtype": dtype, "sha256": sha256_file(weights_file)})
    training = config.get("training")
    if isinstance(training, dict) and training.get("out_dir"):
        training["out_dir"] = Path(training["out_dir"]).name
    if tag:
        config["tag"] = tag
    if card:
        config["card"] = card
    atomic_write_json(out / CONFIG_FILE, config)
    log.info("exported %s -> %s (%s, %s)", src, out, dtype, json.dumps(config.get("selection", {})))
    return out


__all__ = ["export_weights"]
