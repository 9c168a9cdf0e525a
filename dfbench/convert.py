"""``dfbench convert``: an official checkpoint -> dfbench weights (safetensors + config.json).

The family's plugin provides ``converter(state_dict) -> network``; the core wraps that network in
the family's detector (so the input contract travels with the weights) and saves it. Nothing is
unpickled without ``weights_only=True``.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DfbenchError
from .registry import Registry, get_registry
from .specs import load_object
from .weights import load_torch_checkpoint, save_weights, sha256_file


def convert_official(family: str, checkpoint: str | Path, out_dir: str | Path, *, variant: str | None = None,
                     registry: Registry | None = None) -> Path:
    reg = registry or get_registry()
    resolved = reg.resolve_detector(family)
    spec = resolved.spec
    if spec.converter is None:
        raise DfbenchError(f"detector family {spec.name!r} has no official-checkpoint converter")
    import inspect

    obj = load_torch_checkpoint(checkpoint)
    target = spec.variant(variant or resolved.variant.name)
    converter = load_object(spec.converter)
    kwargs = {"variant": target} if "variant" in inspect.signature(converter).parameters else {}
    net = converter(obj, **kwargs)
    det = spec.build(target.name)
    dtype = next(net.parameters()).dtype
    det = det.to(dtype)
    det.net.load_state_dict(net.state_dict(), strict=True)
    det.eval()
    return save_weights(det, out_dir, extra_config={
        "converted_from": Path(checkpoint).name,
        "source_sha256": sha256_file(checkpoint),
        "license_note": spec.license,
    })
