"""LAA-Net losses: focal heatmap loss, BCE terms, consistency, weights and normalisers."""

from __future__ import annotations

import math

import pytest
import torch
from dfbench_laanet.losses import (
    LAANetLoss,
    LossNorm,
    classification_loss,
    consistency_loss,
    heatmap_focal_loss,
)


def test_focal_loss_matches_formula_on_two_pixels():
    logits = torch.tensor([0.0, 0.0]).view(1, 1, 1, 2)
    gt = torch.tensor([1.0, 0.5]).view(1, 1, 1, 2)
    p = 0.5
    pos = 0.72 * math.log(p) * (1 - p) ** 2
    neg = math.log(1 - p) * p**2 * (1 - 0.5) ** 4
    assert heatmap_focal_loss(logits, gt).item() == pytest.approx(-(pos + neg), rel=1e-6)


def test_focal_loss_without_positives_is_negative_term_only():
    logits = torch.full((2, 1, 4, 4), -3.0)
    loss = heatmap_focal_loss(logits, torch.zeros(2, 1, 4, 4))
    p = torch.sigmoid(torch.tensor(-3.0))
    assert loss.item() == pytest.approx(-(32 * torch.log(1 - p) * p**2).item(), rel=1e-5)


def test_focal_loss_falls_when_prediction_matches_target():
    gt = torch.zeros(1, 1, 8, 8)
    gt[0, 0, 3, 3] = 1.0
    good = torch.full_like(gt, -6.0)
    good[0, 0, 3, 3] = 6.0
    assert heatmap_focal_loss(good, gt) < heatmap_focal_loss(torch.zeros_like(gt), gt)


def test_consistency_loss_uses_anchor_similarity():
    e = torch.zeros(1, 4, 2, 2)
    e[0, :, 0, 0] = torch.tensor([2.0, 0, 0, 0])  # anchor (target max)
    e[0, :, 1, 1] = torch.tensor([2.0, 0, 0, 0])  # similar to the anchor
    gt = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    sims = torch.tensor([4 / 2, 0, 0, 4 / 2])  # <a, e_j> / sqrt(4)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(sims, gt.flatten())
    assert consistency_loss(e, gt).item() == pytest.approx(expected.item(), rel=1e-6)


def test_loss_weights_and_terms():
    torch.manual_seed(0)
    out = {"hm": torch.randn(2, 1, 8, 8), "cls": torch.randn(2, 1), "cstency": torch.randn(2, 16, 8, 8)}
    hm = torch.zeros(2, 1, 8, 8)
    hm[1, 0, 2, 2] = 1.0
    cst = torch.rand(2, 1, 8, 8)
    y = torch.tensor([0.0, 1.0])
    a = LAANetLoss(hm_weight=10, cst_weight=100)(out, hm, cst, y)
    b = LAANetLoss(hm_weight=100, cst_weight=100)(out, hm, cst, y)
    assert b["hm"].item() == pytest.approx(10 * a["hm"].item(), rel=1e-6)
    assert a["total"].item() == pytest.approx((a["hm"] + a["cls"] + a["cst"]).item(), rel=1e-6)
    assert a["cls"].item() == pytest.approx(classification_loss(out["cls"], y).item(), rel=1e-6)


def test_global_normalisers_make_shards_add_up():
    torch.manual_seed(0)
    out = {"hm": torch.randn(4, 1, 8, 8), "cls": torch.randn(4, 1), "cstency": torch.randn(4, 8, 8, 8)}
    hm = (torch.rand(4, 1, 8, 8) > 0.95).float()
    cst = torch.rand(4, 1, 8, 8)
    y = torch.tensor([0.0, 1.0, 0.0, 1.0])
    loss = LAANetLoss()
    full = loss(out, hm, cst, y)["total"]
    norm = LossNorm.from_targets(hm)
    parts = sum(loss({k: v[s] for k, v in out.items()}, hm[s], cst[s], y[s], norm)["total"]
                for s in (slice(0, 1), slice(1, 4)))
    assert parts.item() == pytest.approx(full.item(), rel=1e-5)
