"""Official LAA-Net checkpoints <-> our :class:`~dfbench_laanet.model.LAANet`.

The official checkpoint (reference §9) is ``{"epoch", "state_dict", "optimizer"}`` with 803
float64 tensors named after lukemelas' EfficientNet (``_blocks.{i}._depthwise_conv``) plus the
decoder (``deconv_1`` … ``deconv_4``, ``hm``, ``cls``, ``cstency``). The Inception module is
registered twice in the official model, so its 18 tensors appear under both ``inception_block.*``
and ``deconv_4.0.*``. The key mapping below is derived from our module tree, so
:func:`to_official` and :func:`from_official` are exact inverses.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from dfbench.errors import CheckpointMismatchError
from dfbench.weights import load_torch_checkpoint, unwrap_state_dict

from .model import EFNB4_CONFIG, LAANet

log = logging.getLogger(__name__)

MODEL_NAME = "LAA-Net"

# timm block parameter names -> lukemelas names, per block type.
_DS_BLOCK = {"conv_dw": "_depthwise_conv", "bn1": "_bn1", "se.conv_reduce": "_se_reduce",
             "se.conv_expand": "_se_expand", "conv_pw": "_project_conv", "bn2": "_bn2"}
_IR_BLOCK = {"conv_pw": "_expand_conv", "bn1": "_bn0", "conv_dw": "_depthwise_conv", "bn2": "_bn1",
             "se.conv_reduce": "_se_reduce", "se.conv_expand": "_se_expand", "conv_pwl": "_project_conv",
             "bn3": "_bn2"}
_STEM_HEAD = {"conv_stem": "_conv_stem", "bn1": "_bn0", "conv_head": "_conv_head", "bn2": "_bn1"}
_INCEPTION = {"reduce": "pw_block", "conv3": "conv3_block", "conv5": "conv5_block"}
_CBR = {"conv": "0", "bn": "1"}
_UP = {"up": "1", "bn": "2"}
_HEADS = {"hm": {"conv": "0", "bn": "1", "out": "3"}, "cstency": {"conv": "0", "bn": "1", "out": "3"},
          "cls": {"conv": "0", "bn": "1", "fc": "5"}}


def _map_key(key: str, flat_index: Mapping[tuple[int, int], int], ds_blocks: set[tuple[int, int]]) -> list[str]:
    """One of our state-dict keys -> its official name(s) (two for the shared Inception)."""
    if key.startswith("encoder."):
        rest = key[len("encoder."):]
        m = re.fullmatch(r"blocks\.(\d+)\.(\d+)\.(.+)\.(\w+)", rest)
        if m:
            s, j, module, leaf = int(m[1]), int(m[2]), m[3], m[4]
            table = _DS_BLOCK if (s, j) in ds_blocks else _IR_BLOCK
            return [f"_blocks.{flat_index[s, j]}.{table[module]}.{leaf}"]
        module, _, leaf = rest.rpartition(".")
        return [f"{_STEM_HEAD[module]}.{leaf}"]
    if key.startswith("decoder."):
        parts = key.split(".")
        stage, leaf = int(parts[1][len("stage"):]), parts[-1]
        if stage == 1:  # stage1 = ConvBNReLU
            return [f"deconv_1.0.{_CBR[parts[2]]}.{leaf}"]
        if parts[2] == "body" and stage == 4:  # stage4.body = Inception
            sub = f"{_INCEPTION[parts[3]]}.{_CBR[parts[4]]}.{leaf}"
            return [f"deconv_4.0.{sub}", f"inception_block.{sub}"]
        if parts[2] == "body":
            return [f"deconv_{stage}.0.{_CBR[parts[3]]}.{leaf}"]
        return [f"deconv_{stage}.{_UP[parts[2]]}.{leaf}"]
    head, module, leaf = key.split(".")
    return [f"{head}.{_HEADS[head][module]}.{leaf}"]


def official_key_map(net: LAANet) -> dict[str, list[str]]:
    """Our state-dict key -> official key(s), in our state-dict order."""
    from timm.models._efficientnet_blocks import DepthwiseSeparableConv

    flat_index, ds_blocks, i = {}, set(), 0
    for s, stage in enumerate(net.encoder.blocks):
        for j, block in enumerate(stage):
            flat_index[s, j] = i
            i += 1
            if isinstance(block, DepthwiseSeparableConv):
                ds_blocks.add((s, j))
    return {k: _map_key(k, flat_index, ds_blocks) for k in net.state_dict()}


def _official_order(mapping: Mapping[str, list[str]]) -> list[tuple[str, str]]:
    """(official key, our key) pairs in the official file's order.

    The official model registers ``inception_block`` before ``deconv_1``, so those aliases come
    right after the backbone; everything else keeps our (identical) relative order.
    """
    backbone, aliases, rest = [], [], []
    for ours, names in mapping.items():
        for name in names:
            if name.startswith("_"):
                backbone.append((name, ours))
            elif name.startswith("inception_block."):
                aliases.append((name, ours))
            else:
                rest.append((name, ours))
    return backbone + aliases + rest


def official_keys(config: Mapping[str, Any] | None = None) -> dict[str, tuple[int, ...]]:
    """The official key names and shapes for a configuration (803 keys for the released model)."""
    net = LAANet.from_config(config or EFNB4_CONFIG)
    sd = net.state_dict()
    return {name: tuple(sd[ours].shape) for name, ours in _official_order(official_key_map(net))}


def to_official(net: LAANet) -> dict[str, torch.Tensor]:
    """Our network -> a state dict in the official format (duplicated Inception keys included)."""
    sd = net.state_dict()
    return {name: sd[ours].detach().clone() for name, ours in _official_order(official_key_map(net))}


def _weights_dtype(sd: Mapping[str, torch.Tensor]) -> torch.dtype:
    dtype: torch.dtype | None = None
    for v in sd.values():
        if v.is_floating_point():
            dtype = v.dtype if dtype is None else torch.promote_types(dtype, v.dtype)
    return dtype or torch.float32


def from_official(state_dict_or_checkpoint: Any, variant: Any = None, *,
                  config: Mapping[str, Any] | None = None, dtype: torch.dtype | None = None) -> LAANet:
    """Official LAA-Net weights -> :class:`LAANet` in eval mode, in the dtype of the weights.

    The signature every family shares (``dfbench convert`` calls it): ``variant`` is a variant
    name or :class:`~dfbench.specs.VariantSpec` whose model config is built (default: ``efnb4``,
    the released weights); ``config`` gives a model config directly instead.

    Accepts a state dict, the full training checkpoint (``{"state_dict": ...}``), keys prefixed
    with ``module.`` (DataParallel), float64 or float32 tensors, or a path to a ``.pth`` file
    (loaded with ``weights_only=True``). ``forward(x)`` on ``x`` ``[B, 3, 384, 384]`` in [-1, 1]
    returns ``cls`` ``[B, 1]``, ``hm`` ``[B, 1, 96, 96]`` and ``cstency`` ``[B, 256, 96, 96]``
    with the official semantics. Anything that is not exactly the official key set raises
    :class:`~dfbench.errors.CheckpointMismatchError` naming the keys that differ.
    """
    obj = state_dict_or_checkpoint
    if isinstance(obj, (str, Path)):
        obj = load_torch_checkpoint(obj)
    sd = unwrap_state_dict(obj)
    if config is None and variant is not None:
        if isinstance(variant, str):
            from .spec import laanet_spec

            variant = laanet_spec().variant(variant)
        config = dict(variant.config)
    net = LAANet.from_config(config or EFNB4_CONFIG)
    mapping = official_key_map(net)
    ours_sd = net.state_dict()
    expected = {name: ours for name, ours in _official_order(mapping)}

    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    mismatched = [f"{k}: {list(sd[k].shape)} vs {list(ours_sd[expected[k]].shape)}"
                  for k in expected if k in sd and tuple(sd[k].shape) != tuple(ours_sd[expected[k]].shape)]
    if not mismatched:
        # The duplicated Inception tensors are one module in the official model: they must agree.
        for names in mapping.values():
            if len(names) == 2 and all(n in sd for n in names) and not torch.equal(sd[names[0]], sd[names[1]]):
                mismatched.append(f"{names[1]}: differs from {names[0]} (they are one shared module)")
    if missing or unexpected or mismatched:
        raise CheckpointMismatchError(MODEL_NAME, missing, unexpected, mismatched)

    dtype = dtype or _weights_dtype(sd)
    net.to(dtype)
    new_sd = {}
    for ours, names in mapping.items():
        t = sd[names[0]]
        new_sd[ours] = t.to(dtype) if t.is_floating_point() else t.to(ours_sd[ours].dtype)
    net.load_state_dict(new_sd, strict=True)
    log.info("converted official %s checkpoint (%d tensors) to %s", MODEL_NAME, len(sd), dtype)
    return net.eval()
