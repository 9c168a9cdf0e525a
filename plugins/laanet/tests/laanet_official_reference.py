"""An independent, functional statement of the official LAA-Net forward pass (test helper).

Works directly on an official-format state dict (lukemelas key names) with ``torch.nn.functional``
only, following the reference notes (§1.2–§1.7): static 'same' padding computed for the native
size, endpoint taps taken "just before each downsampling", the gated E-FPN, the Inception block
whose one 1x1 reduction serves all four branches, and the three heads. It shares no code with
``dfbench_laanet.model``, so agreement between the two is evidence that both follow the spec.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

B4_STAGE_REPEATS = (2, 4, 4, 6, 6, 8, 2)
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)


def block_strides(stage_repeats=B4_STAGE_REPEATS) -> list[int]:
    out = []
    for reps, s in zip(stage_repeats, STAGE_STRIDES, strict=True):
        out += [s] + [1] * (reps - 1)
    return out


def _static_conv(x, w, b, stride, size, groups=1):
    """lukemelas Conv2dStaticSamePadding: padding computed for ``size``, not for ``x``."""
    k = w.shape[-1]
    out = math.ceil(size / stride)
    pad = max((out - 1) * stride + k - size, 0)
    x = F.pad(x, [pad // 2, pad - pad // 2, pad // 2, pad - pad // 2])
    return F.conv2d(x, w, b, stride, 0, 1, groups)


def _bn(sd, p, x, eps):
    return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"],
                        sd[p + ".bias"], False, 0.0, eps)


def _swish(x):
    return x * torch.sigmoid(x)


def _cbr(sd, p, x, pad):
    """conv (no bias) -> BN (eps 1e-5) -> ReLU, keys ``p.0`` / ``p.1``."""
    return F.relu(_bn(sd, p + ".1", F.conv2d(x, sd[p + ".0.weight"], None, 1, pad), 1e-5))


def official_forward(sd: dict[str, torch.Tensor], x: torch.Tensor, native_size: int = 380,
                     stage_repeats=B4_STAGE_REPEATS) -> dict[str, torch.Tensor]:
    eps = 1e-3
    size = native_size
    h = _swish(_bn(sd, "_bn0", _static_conv(x, sd["_conv_stem.weight"], None, 2, size), eps))
    size = math.ceil(size / 2)
    endpoints = []
    prev = h
    strides = block_strides(stage_repeats)
    for i, s in enumerate(strides):
        p = f"_blocks.{i}."
        inp = h
        if p + "_expand_conv.weight" in sd:
            h = _swish(_bn(sd, p + "_bn0", F.conv2d(h, sd[p + "_expand_conv.weight"]), eps))
        w = sd[p + "_depthwise_conv.weight"]
        h = _swish(_bn(sd, p + "_bn1", _static_conv(h, w, None, s, size, groups=w.shape[0]), eps))
        size = math.ceil(size / s)
        sq = F.adaptive_avg_pool2d(h, 1)
        sq = _swish(F.conv2d(sq, sd[p + "_se_reduce.weight"], sd[p + "_se_reduce.bias"]))
        sq = F.conv2d(sq, sd[p + "_se_expand.weight"], sd[p + "_se_expand.bias"])
        h = torch.sigmoid(sq) * h
        h = _bn(sd, p + "_bn2", F.conv2d(h, sd[p + "_project_conv.weight"]), eps)
        if s == 1 and inp.shape[1] == h.shape[1]:
            h = h + inp
        if prev.shape[2] > h.shape[2]:
            endpoints.append(prev)
        elif i == len(strides) - 1:
            endpoints.append(h)
        prev = h
    head = _swish(_bn(sd, "_bn1", F.conv2d(h, sd["_conv_head.weight"]), eps))
    endpoints.append(head)
    x1, x2, x3, x4 = endpoints[5], endpoints[4], endpoints[3], endpoints[2]

    def gate(d, f):
        return torch.cat([d, torch.mul(torch.sub(1, torch.sigmoid(d)), f)], 1)

    def up(p, d):
        d = F.conv_transpose2d(d, sd[p + ".1.weight"], None, 2, 1)
        return _bn(sd, p + ".2", d, 1e-5)

    d = _cbr(sd, "deconv_1.0", x1, 1)
    d = gate(d, x2)
    d = up("deconv_2", _cbr(sd, "deconv_2.0", d, 1))
    d = gate(d, x3)
    d = up("deconv_3", _cbr(sd, "deconv_3.0", d, 1))
    d = gate(d, x4)
    q = "inception_block."
    b1 = _cbr(sd, q + "pw_block", d, 0)
    b2 = _cbr(sd, q + "conv3_block", _cbr(sd, q + "pw_block", d, 0), 1)
    b3 = _cbr(sd, q + "conv5_block", _cbr(sd, q + "pw_block", d, 0), 2)
    b4 = _cbr(sd, q + "pw_block", F.max_pool2d(d, 3, 1, 1), 0)
    d = F.relu(up("deconv_4", torch.cat([b1, b2, b3, b4], 1)))

    def dense_head(name):
        t = F.relu(_bn(sd, name + ".1", F.conv2d(d, sd[name + ".0.weight"], sd[name + ".0.bias"], 1, 1), 1e-5))
        return F.conv2d(t, sd[name + ".3.weight"], sd[name + ".3.bias"])

    t = F.relu(_bn(sd, "cls.1", F.conv2d(d, sd["cls.0.weight"], sd["cls.0.bias"], 1, 1), 1e-5))
    cls = F.linear(t.mean((2, 3)), sd["cls.5.weight"], sd["cls.5.bias"])
    return {"hm": dense_head("hm"), "cls": cls, "cstency": dense_head("cstency")}


def synthetic_official_weights(keys: list[tuple[str, list[int], str]], seed: int = 0,
                               dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
    """Random weights in the official format, scaled so that activations stay O(1).

    Convolutions get fan-in scaled normals, BatchNorm layers non-trivial affine parameters and
    running statistics, so every tensor influences the outputs.
    """
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}
    for key, shape, kind in keys:
        if kind == "int64":
            sd[key] = torch.tensor(1000, dtype=torch.int64)
            continue
        leaf = key.rsplit(".", 1)[1]
        if leaf == "running_var":
            t = 0.5 + torch.rand(shape, generator=g, dtype=dtype)
        elif leaf == "running_mean":
            t = 0.1 * torch.randn(shape, generator=g, dtype=dtype)
        elif leaf == "weight" and len(shape) == 1:  # BN gamma
            t = 0.75 + 0.5 * torch.rand(shape, generator=g, dtype=dtype)
        elif leaf == "bias":
            t = 0.1 * torch.randn(shape, generator=g, dtype=dtype)
        else:
            fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
            if ".1.weight" in key and key.startswith("deconv_"):  # ConvTranspose: [in, out, k, k]
                fan_in = shape[0] * shape[2] * shape[3] / 4
            t = torch.randn(shape, generator=g, dtype=dtype) / math.sqrt(fan_in)
        sd[key] = t
    # The official model shares one Inception module under two names: same tensors.
    for key in list(sd):
        if key.startswith("deconv_4.0."):
            sd[key] = sd["inception_block." + key[len("deconv_4.0."):]]
    return sd
