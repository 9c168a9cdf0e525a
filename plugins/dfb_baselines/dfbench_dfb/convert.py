"""DeepfakeBench's released checkpoints -> our networks.

DeepfakeBench saves ``detector.state_dict()`` (``ckpt_best.pth``), sometimes with DDP's
``module.`` prefix. Key names, read from its ``training/detectors`` and ``training/networks``:

- ``XceptionDetector``: ``backbone.<Cadene Xception names>``, the classifier as
  ``backbone.last_linear.{weight,bias}`` (``backbone.last_linear.1.*`` when trained with dropout),
  plus ``backbone.adjust_channel.*`` (a 2048 -> 512 projection built always, used only by other
  detectors: accepted and dropped);
- ``EfficientDetector``: ``backbone.efficientnet.<efficientnet_pytorch names>`` without ``_fc``
  (replaced by Identity) and the classifier ``backbone.last_layer.{weight,bias}``.

Any other key set raises :class:`~dfbench.errors.CheckpointMismatchError` listing the missing,
unexpected and mis-shaped keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from dfbench.errors import CheckpointMismatchError
from dfbench.weights import load_torch_checkpoint, unwrap_state_dict
from dfbench.zoo.efficientnet import compare_keys, lukemelas_names, weights_dtype

from .model import efficientnet_net, xception_net
from .spec import EFFICIENTNET_B4, SPSL, XCEPTION

ADJUST_CHANNEL = ("0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                  "1.num_batches_tracked")


def _config(spec, variant: Any) -> dict[str, Any]:
    if variant is None:
        return dict(spec.variant().config)
    if hasattr(variant, "config"):
        return dict(variant.config)
    if isinstance(variant, str):
        return dict(spec.variant(variant).config)
    return dict(variant)


def _state(checkpoint: Any) -> dict[str, torch.Tensor]:
    if isinstance(checkpoint, (str, Path)):
        checkpoint = load_torch_checkpoint(checkpoint)
    return unwrap_state_dict(checkpoint)


def _load(net: nn.Module, names: dict[str, str], state: dict[str, torch.Tensor], model: str,
          optional: dict[str, tuple[int, ...]] | None = None, dtype: torch.dtype | None = None) -> nn.Module:
    ours_sd = net.state_dict()
    expected = {theirs: tuple(ours_sd[ours].shape) for ours, theirs in names.items()}
    optional = optional or {}
    body = {k: v for k, v in state.items() if k not in optional}
    missing, unexpected, mismatched = compare_keys(body, expected)
    mismatched += [f"{k}: {list(state[k].shape)} vs {list(s)}" for k, s in optional.items()
                   if k in state and tuple(state[k].shape) != s]
    if missing or unexpected or mismatched:
        raise CheckpointMismatchError(model, missing, unexpected, mismatched)
    dtype = dtype or weights_dtype(body)
    net = net.to(dtype)
    net.load_state_dict({ours: body[theirs].to(dtype) if body[theirs].is_floating_point() else body[theirs]
                         for ours, theirs in names.items()}, strict=True)
    return net.eval()


def xception_names(net: nn.Module, dropout_head: bool = False) -> dict[str, str]:
    """Our key -> DeepfakeBench key."""
    head = "backbone.last_linear.1." if dropout_head else "backbone.last_linear."
    return {k: (head + k[3:]) if k.startswith("fc.") else "backbone." + k for k in net.state_dict()}


def xception_from_dfb(checkpoint: Any, variant: Any = None, dtype: torch.dtype | None = None,
                      _spec=XCEPTION, _model: str = "DeepfakeBench Xception") -> nn.Module:
    """A DeepfakeBench ``XceptionDetector`` checkpoint -> our :class:`Xception` (eval mode)."""
    state = _state(checkpoint)
    net = xception_net(_config(_spec, variant))
    dropout_head = "backbone.last_linear.1.weight" in state
    width = net.num_features
    optional = {f"backbone.adjust_channel.{k}": s for k, s in zip(
        ADJUST_CHANNEL, [(512, width, 1, 1), (512,), (512,), (512,), (512,), (512,), ()], strict=True)}
    return _load(net, xception_names(net, dropout_head), state, _model, optional, dtype)


def spsl_from_dfb(checkpoint: Any, variant: Any = None, dtype: torch.dtype | None = None) -> nn.Module:
    """A DeepfakeBench ``SpslDetector`` checkpoint (Xception keys, 4-channel ``conv1``) -> ours."""
    return xception_from_dfb(checkpoint, variant, dtype, _spec=SPSL, _model="DeepfakeBench SPSL (4-channel Xception)")


def efficientnet_names(net: nn.Module) -> dict[str, str]:
    out = {}
    for ours, theirs in lukemelas_names(net).items():
        out[ours] = ("backbone.last_layer." + theirs[len("_fc."):]) if theirs.startswith("_fc.") \
            else "backbone.efficientnet." + theirs
    return out


def efficientnet_from_dfb(checkpoint: Any, variant: Any = None, dtype: torch.dtype | None = None) -> nn.Module:
    """A DeepfakeBench ``EfficientDetector`` checkpoint -> our EfficientNet-B4 (eval mode)."""
    state = _state(checkpoint)
    net = efficientnet_net(_config(EFFICIENTNET_B4, variant))
    return _load(net, efficientnet_names(net), state, "DeepfakeBench EfficientNet-B4", None, dtype)


def to_dfb(net: nn.Module) -> dict[str, torch.Tensor]:
    """Our network -> a DeepfakeBench-format state dict (tests, round trips)."""
    sd = net.state_dict()
    names = efficientnet_names(net) if hasattr(net, "blocks") else xception_names(net)
    return {theirs: sd[ours].detach().clone() for ours, theirs in names.items()}
