"""``dfbench convert``: an official checkpoint -> dfbench weights (safetensors + config.json).

Every family's plugin provides one converter with one signature,
``from_official(state_dict, variant) -> network`` (``variant`` the target :class:`VariantSpec`),
named by ``DetectorSpec.converter``; this module is the only caller. The core wraps the network in
the family's detector (so the input contract travels with the weights), stores it in one dtype rule
(the checkpoint's own floating dtype unless ``dtype`` is given) and records the source file's name,
sha256 and the family's licence next to the weights. Nothing is unpickled without ``weights_only=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import DfbenchError
from .registry import Registry, get_registry
from .specs import load_object
from .weights import load_torch_checkpoint, save_weights, sha256_file


def convert_official(family: str, checkpoint: str | Path, out_dir: str | Path, *, variant: str | None = None,
                     dtype: Any = None, registry: Registry | None = None) -> Path:
    reg = registry or get_registry()
    resolved = reg.resolve_detector(family)
    spec = resolved.spec
    if spec.converter is None:
        raise DfbenchError(f"detector family {spec.name!r} has no official-checkpoint converter")
    obj = load_torch_checkpoint(checkpoint)
    target = spec.variant(variant or resolved.variant.name)
    net = load_object(spec.converter)(obj, target)
    det = spec.build(target.name)
    if isinstance(dtype, str):
        import torch

        dtype = getattr(torch, dtype)
    det = det.to(dtype or next(net.parameters()).dtype)
    det.net.load_state_dict(net.state_dict(), strict=True)
    det.eval()
    return save_weights(det, out_dir, extra_config={
        "converted_from": Path(checkpoint).name,
        "source_sha256": sha256_file(checkpoint),
        "license_note": spec.license,
    })
