"""RECCE training objective: BCE + lambda1 * reconstruction (real faces only) + lambda2 * metric loss.

The reconstruction term is applied to real images only (the decoder must learn the distribution of
real faces so that forgeries reconstruct badly; confirmed by the maintainers, RECCE issue #2). The
metric term works on the contrastive matrices ``(n n^T + 1) / 2`` of the L2-normalised global
features at three depths: it raises the mean similarity of real-real pairs and lowers that of
real-fake pairs; fake-fake pairs are left free (forgeries need not resemble each other).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def reconstruction_loss(recons: torch.Tensor, target: torch.Tensor, labels: torch.Tensor,
                        kind: str = "l1") -> torch.Tensor:
    """Mean L1 (or MSE) between reconstruction and input over the *real* samples (label 0).

    A batch without real samples gives 0 (still attached to the graph, so DDP sees every parameter).
    """
    real = labels == 0
    if not bool(real.any()):
        return recons.sum() * 0.0
    fn = F.l1_loss if kind == "l1" else F.mse_loss
    return fn(recons[real].float(), target[real].float())


def metric_loss(corrs: Sequence[torch.Tensor], labels: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Sum over depths of ``max(0, 1 - mean sim(real, real') + mean sim(real, fake))``.

    ``corrs`` are ``[B, B]`` matrices in [0, 1]; the diagonal (self-similarity) is excluded.
    """
    lab = labels.bool()
    b = lab.shape[0]
    eye = torch.eye(b, dtype=torch.bool, device=lab.device)
    real_real = (~lab[:, None] & ~lab[None, :] & ~eye).float()
    real_fake = (lab[:, None] ^ lab[None, :]).float()
    total = corrs[0].new_zeros(())
    for corr in corrs:
        corr = corr.float()
        sim = (corr * real_real).sum() / (real_real.sum() + eps)
        diff = (corr * real_fake).sum() / (real_fake.sum() + eps)
        total = total + torch.clamp(1.0 - sim + diff, min=0.0)
    return total


class RecceLoss(nn.Module):
    """The full objective; returns the weighted total and each term (for logging and tests)."""

    def __init__(self, lambda_recons: float = 0.1, lambda_metric: float = 0.1, recons_kind: str = "l1") -> None:
        super().__init__()
        self.lambda_recons = lambda_recons
        self.lambda_metric = lambda_metric
        self.recons_kind = recons_kind

    def forward(self, out: dict[str, torch.Tensor], x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = out["logits"].float().reshape(-1)
        bce = F.binary_cross_entropy_with_logits(logits, labels.float())
        rec = reconstruction_loss(out["recons"], x, labels, self.recons_kind)
        met = metric_loss(out["contra"], labels)
        total = bce + self.lambda_recons * rec + self.lambda_metric * met
        return {"loss": total, "bce": bce, "recons": rec, "metric": met}
