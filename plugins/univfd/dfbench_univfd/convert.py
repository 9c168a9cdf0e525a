"""UnivFD checkpoints -> our network.

Accepted: the released probe ``fc_weights.pth`` (``{"weight": [1, 768], "bias": [1]}``; the CLIP
ViT-L/14 encoder then comes from the user's ``open_clip`` cache, OpenAI weights), or a full
state dict of the official ``CLIPModel`` (``model.visual.*`` + ``fc.*``) or of ours
(``visual.*`` + ``fc.*``). Anything else raises :class:`~dfbench.errors.CheckpointMismatchError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from dfbench.errors import CheckpointMismatchError, DfbenchError
from dfbench.weights import load_torch_checkpoint, unwrap_state_dict
from dfbench.zoo.efficientnet import compare_keys, weights_dtype

from .model import UnivFD
from .spec import SPEC


def openai_visual_state() -> dict[str, torch.Tensor]:
    """CLIP ViT-L/14's OpenAI image tower from the user's open_clip cache (``visual.*`` keys)."""
    try:
        import open_clip

        clip = open_clip.create_model("ViT-L-14", pretrained="openai", force_quick_gelu=True)
    except Exception as e:  # offline without a cache, or an old open_clip
        raise DfbenchError("fc_weights.pth holds only UnivFD's probe; the CLIP ViT-L/14 encoder comes from "
                           "open_clip's OpenAI weights, which could not be loaded "
                           f"({type(e).__name__}: {str(e).splitlines()[0][:120]}). Fill your cache once with "
                           "network access: python -c \"import open_clip; open_clip.create_model('ViT-L-14', "
                           "pretrained='openai')\"") from None
    return {k: v for k, v in clip.state_dict().items() if k.startswith("visual.")}


def _config(variant: Any) -> dict[str, Any]:
    if variant is None:
        return dict(SPEC.variant().config)
    if hasattr(variant, "config"):
        return dict(variant.config)
    if isinstance(variant, str):
        return dict(SPEC.variant(variant).config)
    return dict(variant)


def from_official(checkpoint: Any, variant: Any = None, clip_state: dict[str, torch.Tensor] | None = None,
                  dtype: torch.dtype | None = None) -> nn.Module:
    if isinstance(checkpoint, (str, Path)):
        checkpoint = load_torch_checkpoint(checkpoint)
    state = unwrap_state_dict(checkpoint)
    if set(state) == {"weight", "bias"}:  # the released probe alone
        state = {"fc.weight": state["weight"], "fc.bias": state["bias"]}
    state = {k[len("model."):] if k.startswith("model.visual.") else k: v for k, v in state.items()}
    if not any(k.startswith("visual.") for k in state):
        state.update(clip_state if clip_state is not None else openai_visual_state())
    net = UnivFD(_config(variant))
    sd = net.state_dict()
    missing, unexpected, mismatched = compare_keys(state, {k: tuple(v.shape) for k, v in sd.items()})
    if missing or unexpected or mismatched:
        raise CheckpointMismatchError("UnivFD (CLIP ViT + fc probe)", missing, unexpected, mismatched)
    dtype = dtype or weights_dtype({"fc.weight": state["fc.weight"]})
    net = net.to(dtype)
    net.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}, strict=True)
    return net.eval()
