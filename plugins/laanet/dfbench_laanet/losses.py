"""Losses of LAA-Net: heatmap focal loss, classification BCE, self-consistency BCE.

Nguyen et al., "Laa-Net: Localized Artifact Attention Network for Quality-Agnostic and
Generalizable Deepfake Detection", CVPR 2024, https://arxiv.org/abs/2401.13856.
Written from our clean-room notes on LAA-Net (not shipped) §2.1.

Every term is computed as a *sum* and divided by a normaliser (positives of the heatmap, samples,
pixels). By default the normalisers come from the batch at hand, which is the official loss; the
trainer passes normalisers counted over the whole effective batch (all accumulation micro-batches
on all DDP ranks), so that the gradient of k micro-batches on n ranks equals the gradient of the
one big batch, rather than an average of per-shard losses with different positive counts.
BCE terms use the logit form (``binary_cross_entropy_with_logits``): the same value as BCE on the
sigmoid, without its saturation at ±100.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class LossNorm:
    """Normalisers of the three terms: heatmap positives, samples, consistency pixels."""

    num_pos: float
    n_samples: float
    n_pixels: float

    @classmethod
    def from_targets(cls, heatmap: torch.Tensor) -> LossNorm:
        """Counts for a batch whose heatmap targets are ``[B, 1, h, w]``."""
        b = heatmap.shape[0]
        return cls(float((heatmap == 1.0).sum()), float(b), float(heatmap[0].numel() * b))


def heatmap_focal_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 0.35,
                       num_pos: float | None = None) -> torch.Tensor:
    """CornerNet focal loss with LAA-Net's ε: positives (target == 1) weighted by 1 − 0.8ε.

    ``num_pos`` defaults to the positives in ``target``; with none, the loss is the negative term
    alone (real-only batches), as in the official code.
    """
    p = torch.sigmoid(logits.float()).clamp(1e-4, 1 - 1e-4)
    t = target.float()
    pos = t.eq(1.0)
    neg = ~pos
    pos_w = (1.0 - eps) + eps * 0.2
    pos_term = (pos_w * torch.log(p) * (1 - p).pow(2))[pos].sum()
    neg_term = (torch.log(1 - p) * p.pow(2) * (1 - t).pow(4))[neg].sum()
    n = float(pos.sum()) if num_pos is None else float(num_pos)
    if n == 0:
        return -neg_term
    return -(pos_term + neg_term) / n


def consistency_loss(embedding: torch.Tensor, target: torch.Tensor,
                     n_pixels: float | None = None) -> torch.Tensor:
    """BCE between sigmoid(<e_anchor, e_j>/√C) and the consistency target C.

    The anchor of each image is the first pixel (raster order) where its target is maximal; for
    real images (C ≡ 0) that is pixel (0, 0), whose self-similarity can never reach 0 — the
    official behaviour, kept so trained weights match theirs.
    """
    b, c = embedding.shape[:2]
    e = embedding.float().flatten(2)  # B, C, HW
    t = target.float().reshape(b, -1)  # B, HW
    anchor_idx = t.argmax(dim=1)
    anchor = e.gather(2, anchor_idx.view(b, 1, 1).expand(b, c, 1))  # B, C, 1
    sim = (anchor * e).sum(1) / math.sqrt(c)  # B, HW
    total = F.binary_cross_entropy_with_logits(sim, t, reduction="sum")
    return total / (float(t.numel()) if n_pixels is None else float(n_pixels))


def classification_loss(logits: torch.Tensor, labels: torch.Tensor,
                        n_samples: float | None = None) -> torch.Tensor:
    """BCE of the fake logit against the label (1 = fake), mean over samples."""
    x = logits.float().reshape(-1)
    y = labels.float().reshape(-1)
    total = F.binary_cross_entropy_with_logits(x, y, reduction="sum")
    return total / (float(x.numel()) if n_samples is None else float(n_samples))


class LAANetLoss(nn.Module):
    """Weighted sum ``hm·L_hm + cls·L_cls + cst·L_cst``.

    Defaults are the released SBI weights' 10 / 1 / 100; the SBI config's 100 / 1 / 100 is
    ``LAANetLoss(hm_weight=100)``. ``forward`` returns a dict with ``total`` and each weighted
    term (``hm``, ``cls``, ``cst``).
    """

    def __init__(self, hm_weight: float = 10.0, cls_weight: float = 1.0, cst_weight: float = 100.0,
                 focal_eps: float = 0.35) -> None:
        super().__init__()
        self.hm_weight, self.cls_weight, self.cst_weight = hm_weight, cls_weight, cst_weight
        self.focal_eps = focal_eps

    def forward(self, outputs: dict[str, torch.Tensor], heatmap: torch.Tensor,
                consistency: torch.Tensor, labels: torch.Tensor,
                norm: LossNorm | None = None) -> dict[str, torch.Tensor]:
        norm = norm or LossNorm.from_targets(heatmap)
        terms = {
            "hm": self.hm_weight * heatmap_focal_loss(outputs["hm"], heatmap, self.focal_eps, norm.num_pos),
            "cls": self.cls_weight * classification_loss(outputs["cls"], labels, norm.n_samples),
            "cst": self.cst_weight * consistency_loss(outputs["cstency"], consistency, norm.n_pixels),
        }
        terms["total"] = terms["hm"] + terms["cls"] + terms["cst"]
        return terms
