"""Official RECCE checkpoints <-> our network.

The official code (VISION-SJTU/RECCE) saves ``Recce.state_dict()``, often inside a training
checkpoint dict and with DataParallel ``module.`` prefixes; :func:`from_official` accepts all three.
Architecture widths are read from the tensor shapes, so official-format checkpoints of narrower
networks (our ``test`` variant written with :func:`to_official`) convert too. Any key that is
missing, unexpected or mis-shaped raises :class:`~dfbench.errors.CheckpointMismatchError` naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from dfbench.errors import CheckpointMismatchError
from dfbench.specs import VariantSpec
from dfbench.weights import unwrap_state_dict

from .model import DEFAULT_CONFIG, RecceNet, build_net

log = logging.getLogger(__name__)

#: The encoder's ImageNet classifier: present in official checkpoints, never used by RECCE.
ENCODER_FC = ("encoder.fc.weight", "encoder.fc.bias")
IMAGENET_CLASSES = 1000


def infer_config(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """Architecture widths from an official-format state dict (paper values where a key is absent)."""
    cfg = dict(DEFAULT_CONFIG)

    def out_ch(key: str, field: str, index: int | None = None) -> None:
        if key not in state:
            return
        n = int(state[key].shape[0])
        if index is None:
            cfg[field] = n
        else:
            vals = list(cfg[field])
            vals[index] = n
            cfg[field] = tuple(vals)

    out_ch("encoder.conv1.weight", "stem", 0)
    out_ch("encoder.conv2.weight", "stem", 1)
    for i in range(3):
        out_ch(f"encoder.block{i + 1}.skip.weight", "entry", i)
    out_ch("encoder.block12.skip.weight", "exit", 0)
    out_ch("encoder.conv3.pointwise.weight", "exit", 1)
    out_ch("encoder.conv4.pointwise.weight", "exit", 2)
    for i, k in enumerate(("decoder1.2.weight", "decoder3.2.weight", "decoder5.2.weight")):
        out_ch(k, "decoder", i)
    out_ch("reasoning.va_embedding.0.weight", "graph_dim")
    return cfg


def _floating_dtype(state: Mapping[str, torch.Tensor]) -> torch.dtype:
    for key in ("fc.weight", *state.keys()):
        t = state.get(key)
        if t is not None and t.is_floating_point():
            return t.dtype
    return torch.float32


def from_official(state_dict: Any, variant: str | Mapping[str, Any] | VariantSpec | None = None,
                  dtype: torch.dtype | None = None) -> RecceNet:
    """Official RECCE weights -> :class:`RecceNet` in eval mode, in the weights' dtype.

    ``state_dict`` may be a bare state dict, a training checkpoint (``{"model": ...}``,
    ``{"state_dict": ...}``) and may carry ``module.`` prefixes. ``variant="gf"`` (or a config
    mapping with ``gf: True``, or the ``gf`` VariantSpec) builds ``recce_gf`` with its trunk from the official weights and its
    global-filter branch at identity (``gamma = 0``), so its logits equal RECCE's until trained.
    """
    state = unwrap_state_dict(state_dict)
    overrides: dict[str, Any] = {}
    if hasattr(variant, "config") and hasattr(variant, "input"):  # a VariantSpec (dfbench convert)
        variant = dict(variant.config)
    if isinstance(variant, str):
        if variant not in ("default", "recce", "gf", "recce_gf"):
            raise ValueError(f"unknown RECCE variant {variant!r}; use 'default' or 'gf'")
        overrides["gf"] = variant in ("gf", "recce_gf")
    elif variant is not None:
        overrides.update(variant)
    cfg = infer_config(state)
    cfg.update(overrides)
    net = build_net(cfg)
    expected = net.state_dict()

    body = {k: v for k, v in state.items() if k not in ENCODER_FC}
    fc_problems = []
    width = net.encoder.num_features
    if all(k in state for k in ENCODER_FC):
        w, b = tuple(state[ENCODER_FC[0]].shape), tuple(state[ENCODER_FC[1]].shape)
        # Only the feature width is checked: a re-trained encoder head may have another class count.
        if len(w) != 2 or w[1] != width or b != w[:1]:
            fc_problems.append(f"encoder.fc.weight/bias: {list(w)}/{list(b)} vs [N, {width}]/[N]")
    elif any(k in state for k in ENCODER_FC):
        fc_problems.append("encoder.fc: only one of weight/bias present")

    gf_keys = {k for k in expected if k.startswith("gf.")}
    missing = sorted(k for k in expected if k not in body and k not in gf_keys)
    unexpected = sorted(k for k in body if k not in expected)
    mismatched = [f"{k}: {list(body[k].shape)} vs {list(expected[k].shape)}"
                  for k in expected if k in body and tuple(body[k].shape) != tuple(expected[k].shape)]
    mismatched += fc_problems
    if missing or unexpected or mismatched:
        raise CheckpointMismatchError("RECCE", missing, unexpected, mismatched)

    dtype = dtype or _floating_dtype(body)
    net = net.to(dtype)
    to_load = {k: v for k, v in body.items()}
    if gf_keys:
        log.info("recce_gf: %d global-filter parameters keep their identity initialisation", len(gf_keys))
        to_load.update({k: expected[k].to(dtype) if expected[k].is_floating_point() else expected[k]
                        for k in gf_keys})
    net.load_state_dict(to_load, strict=True)
    return net.eval()


def to_official(net: RecceNet, encoder_fc: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Our network -> a state dict the official ``Recce`` loads with ``strict=True``.

    The official model builds timm's Xception with its 1000-class ImageNet head, so the state dict
    needs ``encoder.fc.*``; RECCE never reads them. Pass the original tensors as ``encoder_fc`` to
    round-trip them, otherwise zeros are written.
    """
    if getattr(net, "gf", None) is not None:
        raise ValueError("recce_gf has no official format (its global-filter branch is a dfbench "
                         "extension); export the 'default' variant instead")
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    dtype = net.fc.weight.dtype
    width = net.encoder.num_features
    fc = dict(encoder_fc or {})
    state["encoder.fc.weight"] = fc.get("encoder.fc.weight", torch.zeros(IMAGENET_CLASSES, width, dtype=dtype))
    state["encoder.fc.bias"] = fc.get("encoder.fc.bias", torch.zeros(IMAGENET_CLASSES, dtype=dtype))
    return state


def convert_checkpoint(src: str | Path, out_dir: str | Path, variant: str = "default",
                       dtype: torch.dtype = torch.float32) -> Path:
    """``dfbench convert recce OFFICIAL.pth OUT_DIR --dtype float32`` as a function (the core
    converter, which records the source checksum and licence). Official checkpoints are float32
    or float64 and the harness computes in float32; pass ``torch.float64`` to keep parity precision.
    """
    from dfbench.convert import convert_official

    return convert_official("recce", src, out_dir, variant=variant, dtype=dtype)
