"""An independent, functional RECCE forward written straight from the official state-dict keys.

Used only by the tests as a second implementation: it reads weights by key (no shared modules with
``dfbench_recce.model``), runs the encoder through timm's ``legacy_xception`` (the same Cadene port
as timm 0.3.4, which the official code uses) and does graph reasoning with an explicit Python loop
over vertices, as the paper describes it. Agreement with our vectorised network in float64 checks
the module wiring, the decoder, the reasoning maths and the attention.
"""

from __future__ import annotations

import timm
import torch
import torch.nn.functional as F


def _bn(state, prefix, x):
    return F.batch_norm(x, state[prefix + ".running_mean"], state[prefix + ".running_var"],
                        state[prefix + ".weight"], state[prefix + ".bias"], False, 0.0, 1e-5)


def _sep(state, prefix, x):
    w = state[prefix + ".conv1.weight"]
    x = F.conv2d(x, w, padding=1, groups=w.shape[0])
    return F.conv2d(x, state[prefix + ".pointwise.weight"])


def _identity_block(state, prefix, x):
    """Xception Block(c, c, 3, 1): 3 x [ReLU, sepconv, BN] + identity skip."""
    out = x
    for i in (1, 4, 7):
        out = _bn(state, f"{prefix}.rep.{i + 1}", _sep(state, f"{prefix}.rep.{i}", F.relu(out)))
    return out + x


def _up(state, prefix, x):
    x = F.interpolate(x, scale_factor=2, mode="nearest")
    return F.relu(_bn(state, prefix + ".2", _sep(state, prefix + ".1", x)))


def _reasoning(state, a, b, c):
    p = "reasoning."
    emb_a = F.conv2d(F.relu(F.conv2d(a, state[p + "va_embedding.0.weight"])), state[p + "va_embedding.2.weight"])
    gate_b = 1 - torch.sigmoid(F.conv2d(a, state[p + "va_gated_b.0.weight"]))
    gate_c = 1 - torch.sigmoid(F.conv2d(a, state[p + "va_gated_c.0.weight"]))
    batch, dim, h, w = emb_a.shape

    def embed(v, name):
        return F.linear(F.relu(F.linear(v, state[p + name + ".0.weight"])), state[p + name + ".2.weight"])

    out_b = torch.zeros(batch, dim, h, w, dtype=a.dtype)
    out_c = torch.zeros_like(out_b)
    for i in range(h):
        for j in range(w):
            va = emb_a[:, :, i, j]
            for src, r, name, rw, gate, out in ((b, 2, "vb_embedding", "reweight_ab", gate_b, out_b),
                                                (c, 4, "vc_embedding", "reweight_ac", gate_c, out_c)):
                patch = src[:, :, i * r:(i + 1) * r, j * r:(j + 1) * r].flatten(2).transpose(1, 2)
                nb = embed(patch, name)                                   # [B, r*r, D]
                pair = torch.cat([va.unsqueeze(1).expand_as(nb), nb], dim=-1)
                wts = torch.softmax(F.relu(F.linear(pair, state[p + rw + ".0.weight"])), dim=1)
                out[:, :, i, j] = torch.bmm(nb.transpose(1, 2), wts)[:, :, 0] * gate[:, :, i, j]
    agg = torch.sigmoid(torch.cat([out_b, out_c, emb_a], dim=1))
    y = F.relu(F.conv2d(agg, state[p + "reproject.0.weight"]))
    return F.conv2d(y, state[p + "reproject.2.weight"])


def reference_logits(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Official-semantics RECCE logits ``[B, 1]`` for a full-width official state dict."""
    enc = timm.create_model("legacy_xception", pretrained=False).to(x.dtype).eval()
    enc.load_state_dict({k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")})
    with torch.no_grad():
        h = enc.act2(enc.bn2(enc.conv2(enc.act1(enc.bn1(enc.conv1(x))))))
        emb = enc.block4(enc.block3(enc.block2(enc.block1(h))))
        d2 = _identity_block(state, "decoder2", _up(state, "decoder1", emb))
        d4 = _identity_block(state, "decoder4", _up(state, "decoder3", d2))
        pred = torch.tanh(F.conv2d(_up(state, "decoder5", d4), state["decoder6.0.weight"]))
        recons = F.interpolate(pred, size=x.shape[-2:], mode="bilinear", align_corners=True)
        f = enc.block7(enc.block6(enc.block5(emb)))
        f = enc.block8(_reasoning(state, f, d2, d4) + f)
        res = F.interpolate((x - recons).abs(), size=f.shape[-2:], mode="bilinear", align_corners=True)
        gate = torch.sigmoid(F.conv2d(F.relu(F.conv2d(res, state["attention.gated.0.weight"], padding=1)),
                                      state["attention.gated.2.weight"]))
        hf = F.relu(_bn(state, "attention.h.1", F.conv2d(f, state["attention.h.0.weight"])))
        f = gate * hf + f
        for i in (9, 10, 11, 12):
            f = getattr(enc, f"block{i}")(f)
        f = enc.act3(enc.bn3(enc.conv3(f)))
        f = enc.act4(enc.bn4(enc.conv4(f)))
        return F.linear(f.mean(dim=(2, 3)), state["fc.weight"], state["fc.bias"])
