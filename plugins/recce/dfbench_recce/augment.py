"""Training-time image augmentation for RECCE: random zoom/shift and colour jitter on a batch.

The official recipe only flips horizontally, which is enough for FF++'s thousands of videos. The
demo dataset has 24 training videos made from two portraits; without geometric and photometric
jitter a from-scratch model memorises each video's framing and colour cast instead of the
blending and resampling traces. The jitter is kept mild on purpose: no blur, no noise, no
re-compression, because those would erase exactly the evidence some forgeries leave (the demo's
``lowres`` fakes *are* a blur, the ``selfblend`` ones a faint seam).

Every draw comes from the caller's ``torch.Generator`` so a resumed run replays the uninterrupted
one (the trainer seeds it from ``(seed, epoch, rank)``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import AugmentConfig


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """uint8 or float ``[B, 3, H, W]`` in [0, 255] -> float32 in [0, 255], jittered per sample.

    Geometry: zoom by ``1 ± cfg.scale`` and shift by up to ``cfg.shift`` of the side (one affine
    resample, reflection padding so no black borders appear, which would be a label-free cue the
    evaluation crops never show). Colour: brightness, contrast and saturation factors in
    ``1 ± cfg.colour``. Identity when every amplitude is 0 (no resampling at all then).
    """
    x = x.float()
    b = x.shape[0]
    if cfg.scale > 0 or cfg.shift > 0:
        zoom = _uniform(b, 1.0 - cfg.scale, 1.0 + cfg.scale, gen)
        tx = _uniform(b, -cfg.shift, cfg.shift, gen) * 2.0   # affine_grid works in [-1, 1] units
        ty = _uniform(b, -cfg.shift, cfg.shift, gen) * 2.0
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0] = 1.0 / zoom
        theta[:, 1, 1] = 1.0 / zoom
        theta[:, 0, 2] = tx
        theta[:, 1, 2] = ty
        grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if cfg.colour > 0:
        c = cfg.colour
        bright = _uniform(b, 1 - c, 1 + c, gen).view(b, 1, 1, 1).to(x.device)
        contrast = _uniform(b, 1 - c, 1 + c, gen).view(b, 1, 1, 1).to(x.device)
        sat = _uniform(b, 1 - c, 1 + c, gen).view(b, 1, 1, 1).to(x.device)
        x = x * bright
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * contrast + mean
        grey = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
        x = (x - grey) * sat + grey
    return x.clamp(0.0, 255.0)
