"""FAN (Bulat & Tzimiropoulos, 2017): 2D 68-point landmarks from stacked hourglasses.

The network of the ``face-alignment`` package (2DFAN-4: four hourglasses of depth 4 with 256
features), written from the paper and that package's published architecture; module names follow
its checkpoint keys (``conv1``, ``m0.b1_4``, ``top_m_0``, ``l0``, ...). Its pre- and
post-processing are restated too, because the official recipes (LipForensics) used them:

- :func:`crop_box`: the face box -> centre (shifted up by 12 % of the box height) and scale
  ``(w + h) / reference_scale`` (195 for the package's SFD/dlib detectors, 165 for its
  RetinaFace), a square of ``200 * scale`` pixels resized to 256;
- :func:`decode_heatmaps`: arg-max of each 64x64 heatmap, a quarter-pixel step towards the larger
  neighbour, minus 0.5, mapped back to the frame; like the package, the frame coordinates are
  truncated to integers (``integer=False`` keeps the sub-pixel value).

Weights (``2DFAN4-11f355bf06.pth.tar``, a plain state dict) come from the user: a path,
``DFBENCH_FAN`` or ``hf://ORG/NAME@REV``; nothing is downloaded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointMismatchError
from .weights import ModelFile, load_state_dict, resolve_model_file, strip_prefixes

ENV = "DFBENCH_FAN"
FILES = ("2DFAN4-11f355bf06.pth.tar", "2DFAN4.pth.tar", "2DFAN4.pth", "model.safetensors")
WHERE = ("the face-alignment release (https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar, "
         "the URL face_alignment.api.models_urls['2DFAN-4'] names)")
CROP = 256
HEATMAP = 64
SCALE_FACTOR = 200.0
CENTER_Y_OFFSET = 0.12


def _conv3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, 1, 1, bias=False)


class ConvBlock(nn.Module):
    """Pre-activation residual block whose three 3x3 convs (C/2, C/4, C/4) are concatenated."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), _conv3(cin, cout // 2)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout // 2), _conv3(cout // 2, cout // 4)
        self.bn3, self.conv3 = nn.BatchNorm2d(cout // 4), _conv3(cout // 4, cout // 4)
        self.downsample = (nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(True), nn.Conv2d(cin, cout, 1, bias=False))
                           if cin != cout else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.conv1(F.relu(self.bn1(x)))
        b = self.conv2(F.relu(self.bn2(a)))
        c = self.conv3(F.relu(self.bn3(b)))
        skip = self.downsample(x) if self.downsample is not None else x
        return torch.cat([a, b, c], 1) + skip


class HourGlass(nn.Module):
    """Recursive hourglass: blocks ``b1_L`` (skip), ``b2_L`` (down), ``b2_plus_1`` (bottom), ``b3_L`` (up)."""

    def __init__(self, depth: int, features: int) -> None:
        super().__init__()
        self.depth = depth
        for level in range(depth, 0, -1):
            self.add_module(f"b1_{level}", ConvBlock(features, features))
            self.add_module(f"b2_{level}", ConvBlock(features, features))
            self.add_module(f"b3_{level}", ConvBlock(features, features))
        self.add_module("b2_plus_1", ConvBlock(features, features))

    def _level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        up = self._modules[f"b1_{level}"](x)
        low = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2, stride=2))
        low = self._level(level - 1, low) if level > 1 else self._modules["b2_plus_1"](low)
        low = self._modules[f"b3_{level}"](low)
        return up + F.interpolate(low, scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._level(self.depth, x)


class FAN(nn.Module):
    """``forward`` on RGB in [0, 1] ``[B, 3, 256, 256]`` -> the last stack's heatmaps ``[B, 68, 64, 64]``.

    :meth:`stacks` returns every stack's heatmaps (the package's forward returns that list).
    """

    def __init__(self, num_modules: int = 4, points: int = 68) -> None:
        super().__init__()
        self.num_modules = num_modules
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2, self.conv3, self.conv4 = ConvBlock(64, 128), ConvBlock(128, 128), ConvBlock(128, 256)
        for i in range(num_modules):
            self.add_module(f"m{i}", HourGlass(4, 256))
            self.add_module(f"top_m_{i}", ConvBlock(256, 256))
            self.add_module(f"conv_last{i}", nn.Conv2d(256, 256, 1))
            self.add_module(f"bn_end{i}", nn.BatchNorm2d(256))
            self.add_module(f"l{i}", nn.Conv2d(256, points, 1))
            if i < num_modules - 1:  # feed this stack's features and heatmaps into the next
                self.add_module(f"bl{i}", nn.Conv2d(256, 256, 1))
                self.add_module(f"al{i}", nn.Conv2d(points, 256, 1))

    def stacks(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.conv4(self.conv3(F.avg_pool2d(self.conv2(x), 2, stride=2)))
        outs = []
        for i in range(self.num_modules):
            feat = self._modules[f"top_m_{i}"](self._modules[f"m{i}"](x))
            feat = F.relu(self._modules[f"bn_end{i}"](self._modules[f"conv_last{i}"](feat)))
            hm = self._modules[f"l{i}"](feat)
            outs.append(hm)
            if i < self.num_modules - 1:
                x = x + self._modules[f"bl{i}"](feat) + self._modules[f"al{i}"](hm)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stacks(x)[-1]


def from_official(state_dict: dict[str, Any]) -> FAN:
    """A :class:`FAN` holding a face-alignment checkpoint (stack count read from the keys)."""
    sd = strip_prefixes(state_dict)
    n = 1 + max((int(k[1:].split(".")[0]) for k in sd if k.startswith("m") and k[1:2].isdigit()), default=0)
    net = FAN(n)
    own = net.state_dict()
    bad = sorted(set(own) ^ set(sd)) + sorted(k for k in set(own) & set(sd) if own[k].shape != sd[k].shape)
    if bad:
        raise CheckpointMismatchError(f"not a FAN 2D checkpoint: {len(bad)} missing/unexpected/mis-shaped keys "
                                      f"(e.g. {bad[:3]})")
    dtype = next((v.dtype for v in sd.values() if v.is_floating_point()), torch.float32)
    net.to(dtype).load_state_dict(sd)
    return net.eval()


def load_fan(source: str | None = None) -> tuple[FAN, ModelFile]:
    mf = resolve_model_file(source, env=ENV, candidates=FILES, what="FAN 2D landmarks (2DFAN-4)", where=WHERE)
    return from_official(load_state_dict(mf.path, what="FAN")), mf


# -- pre/post-processing (face-alignment's conventions) --------------------------------------

def crop_box(box: tuple[float, float, float, float], reference_scale: float = 195.0) -> tuple[np.ndarray, float]:
    """Centre and scale of the FAN crop for a face box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    centre = np.array([x1 - (x1 - x0) / 2.0, y1 - (y1 - y0) / 2.0])
    centre[1] -= (y1 - y0) * CENTER_Y_OFFSET
    return centre, (x1 - x0 + y1 - y0) / reference_scale


def _to_frame(pt: np.ndarray, centre: np.ndarray, scale: float, resolution: float) -> np.ndarray:
    # inverse of the package's crop transform: p_frame = p * h / res + centre - h / 2, h = 200 * scale
    h = SCALE_FACTOR * scale
    return pt * (h / resolution) + centre - h / 2.0


def crop_image(image: np.ndarray, centre: np.ndarray, scale: float) -> np.ndarray:
    """The 256x256 uint8 crop FAN sees (zero padding outside the frame), as the package cuts it."""
    import cv2

    ul = _to_frame(np.array([1.0, 1.0]), centre, scale, CROP).astype(np.int64)
    br = _to_frame(np.array([float(CROP), float(CROP)]), centre, scale, CROP).astype(np.int64)
    h, w = image.shape[:2]
    out = np.zeros((br[1] - ul[1], br[0] - ul[0], image.shape[2]), np.uint8)
    # 1-based inclusive ranges, as the package computes them
    nx = (max(1, -ul[0] + 1), min(br[0], w) - ul[0])
    ny = (max(1, -ul[1] + 1), min(br[1], h) - ul[1])
    ox = (max(1, ul[0] + 1), min(br[0], w))
    oy = (max(1, ul[1] + 1), min(br[1], h))
    out[ny[0] - 1:ny[1], nx[0] - 1:nx[1]] = image[oy[0] - 1:oy[1], ox[0] - 1:ox[1]]
    return cv2.resize(out, (CROP, CROP), interpolation=cv2.INTER_LINEAR)


def decode_heatmaps(hm: np.ndarray, centre: np.ndarray | None = None, scale: float | None = None, *,
                    integer: bool = True) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Heatmaps ``[B, K, 64, 64]`` -> (points in heatmap pixels ``[B, K, 2]``, points in the frame
    or None, peak scores ``[B, K]``). Frame points are int-truncated like the package's unless
    ``integer=False``."""
    hm = np.asarray(hm)
    b, k, hh, ww = hm.shape
    flat = hm.reshape(b, k, hh * ww)
    idx = flat.argmax(-1)
    scores = np.take_along_axis(flat, idx[..., None], -1)[..., 0]
    px, py = idx % ww, idx // ww
    pts = np.stack([px, py], -1).astype(np.float64)
    inner = (px > 0) & (px < ww - 1) & (py > 0) & (py < hh - 1)
    bi, ki = np.nonzero(inner)
    x, y = px[bi, ki], py[bi, ki]
    dx = hm[bi, ki, y, x + 1] - hm[bi, ki, y, x - 1]
    dy = hm[bi, ki, y + 1, x] - hm[bi, ki, y - 1, x]
    pts[bi, ki] += 0.25 * np.sign(np.stack([dx, dy], -1))
    # +1 -0.5: the package's 1-based peak index minus half a pixel
    pts += 0.5
    frame = None
    if centre is not None and scale is not None:
        frame = _to_frame(pts, np.asarray(centre, np.float64), float(scale), float(hh))
        if integer:
            frame = np.trunc(frame).astype(np.int32)
    return pts, frame, scores


class FANLandmarker:
    """68 landmarks for a face box on an RGB uint8 frame, batched over faces."""

    def __init__(self, net: FAN, *, reference_scale: float = 195.0, device: str = "cpu",
                 weights: ModelFile | None = None, integer: bool = True):
        self.net, self.reference_scale, self.device = net.to(device).eval(), float(reference_scale), device
        self.weights, self.integer = weights, integer

    def recipe(self) -> dict[str, Any]:
        return {"landmarks": f"fan2d_{self.net.num_modules}stack", "reference_scale": self.reference_scale,
                "landmark_weights_sha256": self.weights.sha256 if self.weights else None,
                "integer_points": self.integer}

    @torch.no_grad()
    def __call__(self, image: np.ndarray, boxes: list[tuple[float, float, float, float]]) -> list[np.ndarray]:
        if not boxes:
            return []
        geo = [crop_box(b, self.reference_scale) for b in boxes]
        crops = np.stack([crop_image(image, c, s).transpose(2, 0, 1) for c, s in geo]).astype(np.float32) / 255.0
        dtype = next(self.net.parameters()).dtype
        hm = self.net(torch.from_numpy(crops).to(self.device, dtype)).float().cpu().numpy()
        out = []
        for i, (c, s) in enumerate(geo):
            _, pts, _ = decode_heatmaps(hm[i:i + 1], c, s, integer=self.integer)
            out.append(pts[0].astype(np.float32))
        return out
