"""Official SBI checkpoints (``FFraw.tar``, ``FFc23.tar``) -> our timm-layout network.

The released files are training checkpoints ``{"model": Detector.state_dict(), "optimizer": ...,
"epoch": ...}``; ``Detector`` keeps ``efficientnet_pytorch``'s EfficientNet-B4 (2 classes) under
``net.``, so keys read ``net._blocks.12._depthwise_conv.weight``. Bare EfficientNet state dicts
(without ``net.``) and DataParallel ``module.`` prefixes are accepted too. Anything else raises
:class:`~dfbench.errors.CheckpointMismatchError` listing the missing, unexpected and mis-shaped keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dfbench.errors import CheckpointMismatchError
from dfbench.weights import load_torch_checkpoint, unwrap_state_dict
from dfbench.zoo.efficientnet import compare_keys, lukemelas_names, weights_dtype

from .model import build_net
from .spec import SPEC

PREFIX = "net."


def _config(variant: Any) -> dict[str, Any]:
    if variant is None:
        return dict(SPEC.variant().config)
    if hasattr(variant, "config"):  # a VariantSpec (dfbench convert --variant)
        return dict(variant.config)
    if isinstance(variant, str):
        return dict(SPEC.variant(variant).config)
    return dict(variant)


def official_names(net: nn.Module) -> dict[str, str]:
    """Our key -> the key in an official SBI checkpoint."""
    return {ours: PREFIX + theirs for ours, theirs in lukemelas_names(net).items()}


def to_official(net: nn.Module) -> dict[str, torch.Tensor]:
    """Our network -> the ``model`` entry of an official checkpoint (for tests and round trips)."""
    sd = net.state_dict()
    return {theirs: sd[ours].detach().clone() for ours, theirs in official_names(net).items()}


def from_official(checkpoint: Any, variant: Any = None, dtype: torch.dtype | None = None) -> nn.Module:
    """An official SBI checkpoint (dict or path) -> our network in eval mode, in the weights' dtype."""
    if isinstance(checkpoint, (str, Path)):
        checkpoint = load_torch_checkpoint(checkpoint)
    state = unwrap_state_dict(checkpoint)
    if state and all(k.startswith("_") for k in state):
        # A bare efficientnet_pytorch state dict (its names all start with "_"); anything else keeps
        # its own names so that an error lists the keys as they are in the file.
        state = {PREFIX + k: v for k, v in state.items()}
    net = build_net(_config(variant))
    names = official_names(net)
    ours_sd = net.state_dict()
    expected = {theirs: tuple(ours_sd[ours].shape) for ours, theirs in names.items()}
    missing, unexpected, mismatched = compare_keys(state, expected)
    if missing or unexpected or mismatched:
        raise CheckpointMismatchError("SBI (EfficientNet-B4, efficientnet_pytorch names)", missing, unexpected, mismatched)
    dtype = dtype or weights_dtype(state)
    net = net.to(dtype)
    net.load_state_dict({ours: state[theirs].to(ours_sd[ours].dtype if not state[theirs].is_floating_point() else dtype)
                         for ours, theirs in names.items()}, strict=True)
    return net.eval()


def expected_official_keys(variant: Any = None) -> Mapping[str, tuple[int, ...]]:
    net = build_net(_config(variant))
    sd = net.state_dict()
    return {theirs: tuple(sd[ours].shape) for ours, theirs in official_names(net).items()}
