"""``recce_gf``: a global Fourier filter and spatial/frequency cross-attention on RECCE's trunk.

Design (a dfbench seed variant, not from the RECCE paper). Global filter as in GFNet: "Global Filter
Networks for Image Classification" (Rao et al., NeurIPS 2021), https://arxiv.org/abs/2107.00645.

Where: on the block4 embedding (728 x 19 x 19 at 299 px), the same tensor RECCE decodes, before it
enters block5. Face-forgery artefacts (blending seams, up-sampling grids) are periodic or
band-limited, which a per-frequency gain expresses with one weight where convolutions need many.

What:

1. *Frequency stream.* ``reduce`` (1x1 conv + BN) projects the embedding to ``dim`` channels;
   ``rfft2`` (ortho), multiplication by a learnable complex filter ``W[dim, H, W//2+1]`` (stored
   as real/imaginary pairs, initialised near 1 + 0j, so it starts as an identity filter), and
   ``irfft2`` back to the spatial grid. The filter is defined on the grid of the variant's input
   size and resized bilinearly when an input of another size arrives (GFNet's recipe).
2. *Spatial stream.* ``spatial`` (1x1 conv + BN) projects the same embedding to ``dim`` channels.
3. *Cross-modal attention.* Tokens of each stream attend to the tokens of the other
   (multi-head, pre-LayerNorm): spatial queries read frequency keys/values and vice versa, so each
   location can ask where in the spectrum-filtered map its evidence lies and the reverse.
4. *Fusion.* The two attended streams are concatenated, projected back to the embedding width
   (1x1 conv) and added to the embedding through a per-channel scale ``gamma`` initialised to 0
   (LayerScale). With ``gamma = 0`` the variant computes exactly RECCE, so official RECCE weights
   initialise ``recce_gf`` without changing its outputs, and training grows the new path.

FFTs run in float32 even under bf16 autocast: CPU ``torch.fft`` has no bf16 kernels, and a
half-precision spectrum of a 19x19 map loses the small high-frequency terms the filter is for.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GlobalFilter(nn.Module):
    """Learnable complex gain per channel and 2-D frequency (GFNet), on an ``[B, C, H, W]`` map."""

    def __init__(self, dim: int, size: int) -> None:
        super().__init__()
        self.size = size
        weight = torch.zeros(dim, size, size // 2 + 1, 2)
        weight[..., 0] = 1.0
        # Small noise so channels do not start identical; the mean gain is 1 (identity filter).
        self.weight = nn.Parameter(weight + 0.02 * torch.randn_like(weight))

    def _filter(self, h: int, w: int, dtype: torch.dtype) -> torch.Tensor:
        # .contiguous(): `net.to(memory_format=channels_last)` also restrides this 4-D parameter,
        # and view_as_complex needs the (real, imag) pairs adjacent.
        weight = self.weight.to(dtype).contiguous()
        if weight.shape[1] != h or weight.shape[2] != w // 2 + 1:
            # [C, H, Wf, 2] -> [C, 2, H, Wf] so both parts resize as image channels.
            wt = weight.permute(0, 3, 1, 2)
            wt = F.interpolate(wt, size=(h, w // 2 + 1), mode="bilinear", align_corners=True)
            weight = wt.permute(0, 2, 3, 1).contiguous()
        return torch.view_as_complex(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        h, w = x.shape[-2:]
        with torch.autocast(device_type=x.device.type, enabled=False):
            # Half-precision maps are lifted to float32; float64 stays float64 (parity runs).
            xf = x if x.dtype in (torch.float32, torch.float64) else x.float()
            spec = torch.fft.rfft2(xf, norm="ortho")
            spec = spec * self._filter(h, w, xf.dtype)
            out = torch.fft.irfft2(spec, s=(h, w), norm="ortho")
        return out.to(dtype)


class CrossModalAttention(nn.Module):
    """Tokens of ``query`` attend to tokens of ``context`` (pre-norm multi-head attention + MLP)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        kv = self.norm_kv(context)
        out = query + self.attn(self.norm_q(query), kv, kv, need_weights=False)[0]
        return out + self.mlp(self.norm_mlp(out))


class GFFusion(nn.Module):
    """Frequency + spatial streams with cross-attention, added back to the embedding (see module doc)."""

    def __init__(self, channels: int, dim: int, grid: int, heads: int = 4) -> None:
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(channels, dim, 1, bias=False), nn.BatchNorm2d(dim))
        self.spatial = nn.Sequential(nn.Conv2d(channels, dim, 1, bias=False), nn.BatchNorm2d(dim))
        self.filter = GlobalFilter(dim, grid)
        self.s_from_f = CrossModalAttention(dim, heads)
        self.f_from_s = CrossModalAttention(dim, heads)
        self.project = nn.Conv2d(2 * dim, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        freq = self.filter(self.reduce(x)).flatten(2).transpose(1, 2)  # [B, HW, dim]
        spat = self.spatial(x).flatten(2).transpose(1, 2)
        s = self.s_from_f(spat, freq)
        f = self.f_from_s(freq, spat)
        fused = torch.cat([s, f], dim=-1).transpose(1, 2).reshape(b, -1, h, w)
        return x + self.gamma.view(1, -1, 1, 1).to(x.dtype) * self.project(fused)
