"""Official LipForensics checkpoints <-> dfbench networks.

Our parameter names equal the official ones (``frontend3D.*``, ``trunk.layerN.*``,
``tcn.mb_ms_tcn.network.*``, ``tcn.tcn_output.*``), so conversion is an identity mapping that is
*checked*: every key must be present with the right shape, or :class:`CheckpointMismatchError`
lists what differs. The architecture is read off the tensor shapes, so narrower re-trainings in the
official format load too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dfbench.errors import CheckpointMismatchError, WeightsError
from dfbench.weights import load_torch_checkpoint, unwrap_state_dict

from .model import LipForensicsConfig, LipForensicsNet

MODEL_NAME = "LipForensics"


def _infer_config(sd: dict[str, torch.Tensor], consensus: str) -> LipForensicsConfig:
    """Architecture from shapes; falls back to the official config when keys are missing (the
    strict comparison afterwards then reports exactly which keys are wrong)."""
    try:
        widths, blocks = [], []
        i = 1
        while f"trunk.layer{i}.0.conv1.weight" in sd:
            widths.append(int(sd[f"trunk.layer{i}.0.conv1.weight"].shape[0]))
            blocks.append(
                len({m.group(1) for k in sd if (m := re.match(rf"trunk\.layer{i}\.(\d+)\.", k))})
            )
            i += 1
        levels = len(
            {m.group(1) for k in sd if (m := re.match(r"tcn\.mb_ms_tcn\.network\.(\d+)\.", k))}
        )
        kernels, j = [], 0
        while f"tcn.mb_ms_tcn.network.0.cbcr0_{j}.conv.weight" in sd:
            kernels.append(int(sd[f"tcn.mb_ms_tcn.network.0.cbcr0_{j}.conv.weight"].shape[2]))
            j += 1
        return LipForensicsConfig(
            frontend_channels=int(sd["frontend3D.0.weight"].shape[0]),
            widths=tuple(widths),
            blocks=tuple(blocks),
            tcn_branch_channels=int(sd["tcn.mb_ms_tcn.network.0.cbcr0_0.conv.weight"].shape[0]),
            tcn_kernels=tuple(kernels),
            tcn_levels=levels,
            consensus=consensus,
        )
    except (KeyError, ValueError, IndexError):
        return LipForensicsConfig(consensus=consensus)


def _float_dtype(sd: dict[str, torch.Tensor]) -> torch.dtype:
    for v in sd.values():
        if v.is_floating_point():
            return v.dtype
    raise WeightsError("the checkpoint holds no floating-point tensors")


def official_keys(net: LipForensicsNet) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of the official state dict for ``net``'s architecture (attention excluded)."""
    return {
        k: tuple(v.shape) for k, v in net.state_dict().items() if not k.startswith("tcn.attention.")
    }


def from_official(obj: Any, variant: Any = None, *, consensus: str | None = None) -> LipForensicsNet:
    """Official checkpoint -> :class:`LipForensicsNet` in eval mode, in the weights' dtype.

    ``obj``: a state dict, a full training checkpoint (``{"model_state_dict": ...}`` etc.), with or
    without ``module.`` prefixes, or a path to a ``.pth`` (loaded with ``weights_only=True``).
    ``consensus="attention"`` builds the temporal-attention variant on top of the official weights
    with its attention reset to uniform weights, so before fine-tuning it equals the official model.
    """
    if consensus is None:
        # `dfbench convert lipforensics_r18_ta` passes the target variant: take its consensus.
        if isinstance(variant, str):
            from .spec import SPEC

            variant = SPEC.variant(variant)
        consensus = (variant.config.get("consensus") if variant is not None else None) or "mean"
    if isinstance(obj, (str, Path)):
        obj = load_torch_checkpoint(obj)
    sd = unwrap_state_dict(obj)
    cfg = _infer_config(sd, consensus)
    net = LipForensicsNet(cfg)
    expected = official_keys(net)
    missing = sorted(k for k in expected if k not in sd)
    unexpected = sorted(k for k in sd if k not in expected)
    mismatched = sorted(
        f"{k}: {tuple(sd[k].shape)} vs {expected[k]}"
        for k in expected
        if k in sd and tuple(sd[k].shape) != expected[k]
    )
    if missing or unexpected or mismatched:
        raise CheckpointMismatchError(MODEL_NAME, missing, unexpected, mismatched)
    net = net.to(_float_dtype(sd))
    if net.tcn.attention is not None:
        net.tcn.attention.reset_to_uniform()
    result = net.load_state_dict(sd, strict=False)
    assert not result.unexpected_keys and all(
        k.startswith("tcn.attention.") for k in result.missing_keys
    )
    return net.eval()


def to_official(net: nn.Module) -> dict[str, torch.Tensor]:
    """Inverse of :func:`from_official`: the official-format state dict of a mean-consensus net.

    Accepts a :class:`LipForensicsNet` or a dfbench detector wrapping one (``net.`` keys).
    The attention variant has no official counterpart and is refused.
    """
    inner = getattr(net, "net", net)
    if not isinstance(inner, LipForensicsNet):
        raise TypeError(
            f"expected a LipForensicsNet or LipForensicsDetector, got {type(net).__name__}"
        )
    if inner.tcn.attention is not None:
        raise ValueError(
            "the temporal-attention variant has no official LipForensics format (the official model "
            "averages over time); export the r18 (mean) variant instead"
        )
    return {k: v.detach().clone() for k, v in inner.state_dict().items()}


def convert_file(src: str | Path, out_dir: str | Path, variant: str = "r18") -> Path:
    """``dfbench convert lipforensics SRC OUT_DIR --variant VARIANT`` as a function (the core
    converter, which records the source checksum and licence). ``r18_ta`` gets its attention
    initialised to uniform = the official mean, ready for fine-tuning."""
    from dfbench.convert import convert_official

    return convert_official("lipforensics", src, out_dir, variant=variant)
