"""RECCE network and its dfbench detector wrapper.

"End-to-End Reconstruction-Classification Learning for Face Forgery Detection" (Cao et al.,
CVPR 2022), https://openaccess.thecvf.com/content/CVPR2022/html/Cao_End-to-End_Reconstruction-Classification_Learning_for_Face_Forgery_Detection_CVPR_2022_paper.html
Official code: https://github.com/VISION-SJTU/RECCE (MIT). This is a clean re-implementation that
keeps the official parameter names (so official checkpoints load key for key) and reproduces the
official float64 logits; the deliberate differences are listed here:

- ``forward`` returns ``[B, 1]`` for every batch size (the official ``squeeze`` turns batch 1
  into ``[1]`` and breaks its own contrastive matrices).
- The graph-reasoning aggregation is vectorised over the 19x19 vertices instead of a Python loop
  over 361 positions; the re-weighting Linear is split into its vertex-a and vertex-b halves so the
  vertex-a half is computed once per vertex instead of once per neighbour. Same maths, different
  summation order (differences ~1e-15 in float64, see tests/test_convert.py), and no per-vertex
  Python overhead.
- The auxiliary training outputs (reconstruction, contrastive matrices) are returned explicitly
  by :meth:`RecceNet.forward_train` rather than stashed on ``self.loss_inputs``.
- The ImageNet classifier of the encoder (``encoder.fc``) is not instantiated: RECCE never reads
  it. The converter validates and drops it, and writes it back for the official format.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dfbench.detector import Detector

from .gf import GFFusion
from .xception import Block, SeparableConv2d, Xception

#: Architecture of the paper model (the ``default`` variant), keyed as in ``VariantSpec.config``.
DEFAULT_CONFIG: dict[str, Any] = {
    "input_size": 299,
    "stem": (32, 64),
    "entry": (128, 256, 728),
    "exit": (1024, 1536, 2048),
    "decoder": (256, 128, 64),
    "graph_dim": 256,
    "drop_rate": 0.2,
    "noise_std": 1e-6,
    "gf": False,
    "gf_dim": 128,
    "gf_heads": 4,
}


class GraphReasoning(nn.Module):
    """Multi-scale graph reasoning: each block7 vertex aggregates its decoder neighbourhoods.

    Vertex a is one position of the encoder map (``[B, Ca, h, w]``); its neighbours are the
    ``r x r`` patches at the same place in decoder maps b (``2h``, ratio 2) and c (``4h``,
    ratio 4). Neighbour weights come from a Linear on [emb_a, emb_neighbour] -> ReLU -> softmax over
    the neighbours; aggregates are gated by ``1 - sigmoid(conv(vert_a))``; sigmoid of
    [agg_b, agg_c, emb_a] is re-projected to ``Ca`` channels.
    """

    def __init__(self, va_in: int, va_out: int, vb_in: int, vb_out: int, vc_in: int, vc_out: int,
                 ratios: Sequence[int] = (2, 4), drop_rate: float = 0.2) -> None:
        super().__init__()
        self.ratios = tuple(ratios)
        self.va_out = va_out
        self.va_embedding = nn.Sequential(
            nn.Conv2d(va_in, va_out, 1, bias=False), nn.ReLU(True), nn.Conv2d(va_out, va_out, 1, bias=False))
        self.va_gated_b = nn.Sequential(nn.Conv2d(va_in, va_out, 1, bias=False), nn.Sigmoid())
        self.va_gated_c = nn.Sequential(nn.Conv2d(va_in, va_out, 1, bias=False), nn.Sigmoid())
        self.vb_embedding = nn.Sequential(
            nn.Linear(vb_in, vb_out, bias=False), nn.ReLU(True), nn.Linear(vb_out, vb_out, bias=False))
        self.vc_embedding = nn.Sequential(
            nn.Linear(vc_in, vc_out, bias=False), nn.ReLU(True), nn.Linear(vc_out, vc_out, bias=False))
        # Only the Linear carries weights; ReLU + softmax are applied in _aggregate. Kept in a
        # Sequential so the checkpoint key stays ``reweight_ab.0.weight``.
        self.reweight_ab = nn.Sequential(nn.Linear(va_out + vb_out, 1, bias=False))
        self.reweight_ac = nn.Sequential(nn.Linear(va_out + vc_out, 1, bias=False))
        self.reproject = nn.Sequential(
            nn.Conv2d(va_out + vb_out + vc_out, va_in, 1, bias=False), nn.ReLU(True),
            nn.Conv2d(va_in, va_in, 1, bias=False), nn.Dropout(drop_rate))

    def _neighbours(self, vert: torch.Tensor, r: int, embed: nn.Module) -> torch.Tensor:
        b, c = vert.shape[:2]
        # Unfold orders its rows channel-major ([C, r*r]); -> [B, r*r, L, C] for the Linear.
        patches = F.unfold(vert, kernel_size=r, stride=r).reshape(b, c, r * r, -1)
        return embed(patches.permute(0, 2, 3, 1))

    def _aggregate(self, emb_a: torch.Tensor, emb_n: torch.Tensor, reweight: nn.Module) -> torch.Tensor:
        weight = reweight[0].weight[0]
        d = emb_a.shape[-1]
        # Linear([a, n]) = w_a . a + w_n . n; a is shared by all neighbours of a vertex.
        score_a = emb_a @ weight[:d]                      # [B, L]
        score_n = emb_n @ weight[d:]                      # [B, r*r, L]
        w = torch.softmax(torch.relu(score_n + score_a.unsqueeze(1)), dim=1)
        return (emb_n * w.unsqueeze(-1)).sum(dim=1)       # [B, L, D]

    def forward(self, vert_a: torch.Tensor, vert_b: torch.Tensor, vert_c: torch.Tensor) -> torch.Tensor:
        b, _, h, w = vert_a.shape
        emb_a = self.va_embedding(vert_a).flatten(2)                 # [B, D, L]
        gate_b = (1 - self.va_gated_b(vert_a)).flatten(2)
        gate_c = (1 - self.va_gated_c(vert_a)).flatten(2)
        emb_b = self._neighbours(vert_b, self.ratios[0], self.vb_embedding)
        emb_c = self._neighbours(vert_c, self.ratios[1], self.vc_embedding)
        emb_a_t = emb_a.transpose(1, 2)                               # [B, L, D]
        agg_b = self._aggregate(emb_a_t, emb_b, self.reweight_ab).transpose(1, 2) * gate_b
        agg_c = self._aggregate(emb_a_t, emb_c, self.reweight_ac).transpose(1, 2) * gate_c
        agg = torch.sigmoid(torch.cat([agg_b, agg_c, emb_a], dim=1)).reshape(b, -1, h, w)
        return self.reproject(agg)


class GuidedAttention(nn.Module):
    """Reconstruction-guided attention: ``gate(|x - x_hat|) * h(f) + f`` on the block8 output."""

    def __init__(self, depth: int = 728, drop_rate: float = 0.2) -> None:
        super().__init__()
        self.gated = nn.Sequential(
            nn.Conv2d(3, 3, 3, 1, 1, bias=False), nn.ReLU(True), nn.Conv2d(3, 1, 1, bias=False), nn.Sigmoid())
        self.h = nn.Sequential(nn.Conv2d(depth, depth, 1, 1, bias=False), nn.BatchNorm2d(depth), nn.ReLU(True))
        self.dropout = nn.Dropout(drop_rate)

    def forward(self, x: torch.Tensor, recons: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        residual = F.interpolate((x - recons).abs(), size=feat.shape[-2:], mode="bilinear", align_corners=True)
        return self.gated(residual) * self.h(feat) + self.dropout(feat)


def _up_stage(cin: int, cout: int) -> nn.Sequential:
    # Index layout (0 upsample, 1 sepconv, 2 BN, 3 ReLU) is the checkpoint's ``decoderN.1/2``.
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), SeparableConv2d(cin, cout, 3, 1, 1),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class RecceNet(nn.Module):
    """The RECCE network. ``forward(x)`` on ``[B, 3, S, S]`` in [-1, 1] returns logits ``[B, 1]``.

    ``forward(x, return_recons=True)`` returns ``(logits, reconstruction)``; the reconstruction is
    ``[B, 3, S, S]`` in [-1, 1] and is also kept as ``self.last_reconstruction`` (detached) after
    every forward, for explanations.
    """

    def __init__(self, input_size: int = 299, stem: Sequence[int] = (32, 64),
                 entry: Sequence[int] = (128, 256, 728), exit: Sequence[int] = (1024, 1536, 2048),
                 decoder: Sequence[int] = (256, 128, 64), graph_dim: int = 256, drop_rate: float = 0.2,
                 noise_std: float = 1e-6, gf: bool = False, gf_dim: int = 128, gf_heads: int = 4,
                 num_classes: int = 1) -> None:
        super().__init__()
        self.config = {"input_size": input_size, "stem": tuple(stem), "entry": tuple(entry),
                       "exit": tuple(exit), "decoder": tuple(decoder), "graph_dim": graph_dim,
                       "drop_rate": drop_rate, "noise_std": noise_std, "gf": gf, "gf_dim": gf_dim,
                       "gf_heads": gf_heads}
        self.noise_std = noise_std
        self.encoder = Xception(stem, entry, exit)
        mid = self.encoder.mid_channels
        d1, d2, d3 = decoder
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(drop_rate)
        self.fc = nn.Linear(self.encoder.num_features, num_classes)
        self.attention = GuidedAttention(mid, drop_rate)
        self.reasoning = GraphReasoning(mid, graph_dim, d1, graph_dim, d2, graph_dim, (2, 4), drop_rate)
        self.decoder1 = _up_stage(mid, d1)
        self.decoder2 = Block(d1, d1, 3, 1)
        self.decoder3 = _up_stage(d1, d2)
        self.decoder4 = Block(d2, d2, 3, 1)
        self.decoder5 = _up_stage(d2, d3)
        self.decoder6 = nn.Sequential(nn.Conv2d(d3, 3, 1, 1, bias=False), nn.Tanh())
        self.gf: GFFusion | None = None
        if gf:
            self.gf = GFFusion(mid, gf_dim, self.embedding_grid(input_size), gf_heads)
        self.last_reconstruction: torch.Tensor | None = None

    @staticmethod
    def embedding_grid(size: int) -> int:
        """Side of the block4 map for a ``size`` input (19 for 299): stem convs, then 3 strided blocks."""
        s = (size - 3) // 2 + 1 - 2
        for _ in range(3):
            s = (s - 1) // 2 + 1
        return s

    def _add_white_noise(self, x: torch.Tensor) -> torch.Tensor:
        # Official training recipe: tiny Gaussian noise on a random half of the batch, encoder
        # input only (the attention and the reconstruction target see the clean image).
        pick = (torch.rand(x.shape[0], 1, 1, 1, device=x.device) > 0.5).to(x.dtype)
        return (x + torch.randn_like(x) * self.noise_std * pick).clamp(-1.0, 1.0)

    @staticmethod
    def _norm_corr(feat: torch.Tensor) -> torch.Tensor:
        """(n n^T + 1) / 2 of the L2-normalised global average, ``[B, B]`` (float32 under autocast)."""
        if feat.dtype in (torch.float16, torch.bfloat16):
            feat = feat.float()  # a half-precision Gram matrix loses the small distances that matter
        n = F.normalize(feat.mean(dim=(2, 3)), p=2, dim=1)
        return (n @ n.t() + 1.0) / 2.0

    def forward_train(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Everything the losses need: ``logits [B, 1]``, ``recons [B, 3, S, S]``, ``contra`` (3 x [B, B])."""
        enc = self.encoder
        inp = self._add_white_noise(x) if self.training and self.noise_std > 0 else x
        embedding = enc.stem(inp)
        contra = [self._norm_corr(embedding)]
        out = self.decoder1(self.dropout(embedding))
        out_d2 = self.decoder2(out)
        contra.append(self._norm_corr(out_d2))
        out_d4 = self.decoder4(self.decoder3(out_d2))
        contra.append(self._norm_corr(out_d4))
        pred = self.decoder6(self.decoder5(out_d4))
        recons = F.interpolate(pred, size=x.shape[-2:], mode="bilinear", align_corners=True)

        if self.gf is not None:
            embedding = self.gf(embedding)
        feat = enc.block7(enc.block6(enc.block5(embedding)))
        feat = self.reasoning(feat, out_d2, out_d4) + feat
        feat = enc.block8(feat)
        feat = self.attention(x, recons, feat)
        feat = enc.exit_flow(feat)
        pooled = self.dropout(self.global_pool(feat).flatten(1))
        return {"logits": self.fc(pooled), "recons": recons, "contra": contra}

    def forward(self, x: torch.Tensor, return_recons: bool = False):
        out = self.forward_train(x)
        self.last_reconstruction = out["recons"].detach()
        if return_recons:
            return out["logits"], out["recons"]
        return out["logits"]


def build_net(config: dict[str, Any] | None = None) -> RecceNet:
    """A RECCE network from a (partial) variant config; unspecified keys take the paper values."""
    cfg = dict(DEFAULT_CONFIG)
    cfg.update(dict(config or {}))
    return RecceNet(**cfg)


class RecceDetector(Detector):
    """dfbench wrapper: uint8 crops -> [-1, 1] (mean = std = 0.5) -> RECCE -> logits ``[B]``."""

    def __init__(self, net: RecceNet, input_spec) -> None:
        super().__init__(net, input_spec)
        self._autocast_dtype: torch.dtype | None = None

    def configure_inference(self, channels_last: bool = False, autocast: str | None = None, **_: Any) -> None:
        """Fast paths: ``channels_last=True`` and ``autocast="bf16"`` (CPU/CUDA) or ``"fp16"`` (CUDA)."""
        if channels_last:
            self.net.to(memory_format=torch.channels_last)
        self._autocast_dtype = {None: None, "bf16": torch.bfloat16, "fp16": torch.float16}[autocast]

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._autocast_dtype is not None:
            with torch.autocast(device_type=x.device.type, dtype=self._autocast_dtype):
                logits, recons = self.net(x, return_recons=True)
        else:
            logits, recons = self.net(x, return_recons=True)
        return logits.float(), recons.float()

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        logits, _ = self._run(x)
        return logits[:, 0]

    # How `dfbench predict --explain` titles the map and labels its colour bar.
    explain_heatmap_title = "reconstruction error"
    explain_heatmap_label = "|x − x̂| / 2 in [-1, 1] pixel space"

    @torch.no_grad()
    def explain(self, x: torch.Tensor) -> dict[str, Any]:
        """``logits [B]``, ``reconstruction`` (uint8 ``[B, 3, H, W]``) and ``heatmap`` ``[B, H, W]``.

        The heatmap is ``|x - x_hat|`` averaged over channels in the model's [-1, 1] space and
        divided by 2, so it lies in [0, 1] on an absolute scale (comparable across faces: RECCE is
        trained to reconstruct real faces well, so bright regions are the suspicious ones).
        """
        if x.dtype != torch.uint8:
            raise TypeError(f"{type(self).__name__} expects uint8 crops, got {x.dtype}")
        xn = self.normalise(x)
        logits, recons = self._run(xn)
        heat = ((xn.float() - recons).abs().mean(dim=1) / 2.0).clamp(0.0, 1.0)
        rec_u8 = ((recons * 0.5 + 0.5) * 255.0).round().clamp(0, 255).to(torch.uint8)
        return {"logits": logits[:, 0], "reconstruction": rec_u8, "heatmap": heat}


def build_detector(variant) -> RecceDetector:
    """Factory named in the spec: ``variant.config`` -> untrained :class:`RecceDetector`."""
    return RecceDetector(build_net(dict(variant.config)), variant.input)
