"""Image and mask augmentations used by the pseudo-fake generators (numpy + OpenCV, no albumentations).

Every function takes an explicit ``np.random.Generator`` so a sample is a pure function of its
seed (exact resume, identical DDP shards). Paired transforms draw their parameters once and apply
them to the real and the fake, so the label is the only difference between the two.

Speed choices (see ``plugins/laanet/tests/bench_synthesis.py``): all per-pixel point operations (RGB shift, brightness,
contrast) are folded into one 256-entry lookup table per channel and applied with ``cv2.LUT``;
the elastic displacement field is drawn at a quarter of the resolution and upsampled (it is a
heavily blurred noise field, so little is lost); geometry is always one ``warpAffine`` per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# ---------------------------------------------------------------------------------------------
# Colour and frequency


def _point_lut(shift: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """LUT for ``clip(clip(v + shift_c) * alpha + beta * 255)``: RGBShift then brightness/contrast."""
    v = np.arange(256, dtype=np.float32)[:, None] + shift[None, :].astype(np.float32)
    v = np.clip(v, 0, 255)
    v = np.clip(v * alpha + beta * 255.0, 0, 255)
    return np.round(v).astype(np.uint8).reshape(256, 1, 3)


@dataclass(frozen=True)
class ColourJitter:
    """Drawn parameters of a colour jitter; ``apply`` can be called on several images."""

    lut: np.ndarray | None
    jpeg_quality: int | None = None

    def apply(self, img: np.ndarray) -> np.ndarray:
        out = img if self.lut is None else cv2.LUT(img, self.lut)
        if self.jpeg_quality is not None:
            out = jpeg(out, self.jpeg_quality)
        return out


def draw_colour_jitter(rng: np.random.Generator, *, p_shift: float, shift: float, p_bc: float,
                       brightness: float, contrast: float, p_jpeg: float = 0.0,
                       jpeg_range: tuple[int, int] = (40, 100)) -> ColourJitter:
    """RGBShift(±shift, p_shift) -> RandomBrightnessContrast(±b, ±c, p_bc) -> JPEG(p_jpeg).

    HSV jitter is not drawn: SBI's ``HueSaturationValue`` limits of ±0.3 are absolute shifts on
    8-bit hue/saturation/value in the albumentations version it pins, which round to (nearly) the
    identity, so the effective official pipeline has none.
    """
    s = np.zeros(3, np.float32)
    alpha, beta = 1.0, 0.0
    used = False
    if rng.random() < p_shift:
        s = rng.uniform(-shift, shift, 3).astype(np.float32)
        used = True
    if rng.random() < p_bc:
        alpha = 1.0 + float(rng.uniform(-contrast, contrast))
        beta = float(rng.uniform(-brightness, brightness))
        used = True
    q = int(rng.integers(jpeg_range[0], jpeg_range[1] + 1)) if rng.random() < p_jpeg else None
    return ColourJitter(_point_lut(s, alpha, beta) if used else None, q)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through JPEG at ``quality`` (RGB in, RGB out)."""
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB
        return img
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def downscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour downscale then bilinear upscale: SBI's 'frequency' artefact."""
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_NEAREST)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def sharpen(img: np.ndarray, alpha: float, lightness: float) -> np.ndarray:
    """Blend of identity and a Laplacian-like sharpening kernel (albumentations ``Sharpen``)."""
    ident = np.zeros((3, 3), np.float32)
    ident[1, 1] = 1.0
    effect = -np.ones((3, 3), np.float32)
    effect[1, 1] = 8.0 + lightness
    k = (1.0 - alpha) * ident + alpha * effect
    return cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT_101)


def source_target_transform(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SBI's source-target generator: colour jitter, then downscale (r ∈ {2, 4}) or sharpen."""
    jit = draw_colour_jitter(rng, p_shift=0.3, shift=20, p_bc=1.0, brightness=0.1, contrast=0.1)
    out = jit.apply(img)
    if rng.random() < 0.5:
        return downscale(out, int(rng.choice((2, 4))))
    return sharpen(out, float(rng.uniform(0.2, 0.5)), float(rng.uniform(0.5, 1.0)))


# ---------------------------------------------------------------------------------------------
# Mask deformation and blending


def random_affine(img: np.ndarray, mask: np.ndarray, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Shift x ±3 %, y ±1.5 %, scale [0.95, 1/0.95] about the centre, same for image and mask."""
    h, w = mask.shape[:2]
    tx = rng.uniform(-0.03, 0.03) * w
    ty = rng.uniform(-0.015, 0.015) * h
    s = rng.uniform(0.95, 1 / 0.95)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    m = np.array([[s, 0, cx - s * cx + tx], [0, s, cy - s * cy + ty]], np.float32)
    img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    mask = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return img, mask


def elastic(mask: np.ndarray, rng: np.random.Generator, alpha: float = 50.0, sigma: float = 7.0,
            coarse: int = 4) -> np.ndarray:
    """Elastic deformation (uniform noise blurred with ``sigma``, times ``alpha`` pixels).

    The noise is drawn on a grid ``coarse`` times smaller and blurred with ``sigma / coarse``:
    a blurred white-noise field has ``coarse`` times the standard deviation there, so the
    upsampled field is divided by ``coarse`` to keep the displacement statistics of the
    full-resolution recipe at a sixteenth of the cost.
    """
    h, w = mask.shape[:2]
    c = coarse if sigma / coarse >= 1.0 else 1
    hs, ws = max(2, -(-h // c)), max(2, -(-w // c))
    noise = rng.uniform(-1.0, 1.0, (2, hs, ws)).astype(np.float32)
    fields = []
    for f in noise:
        f = cv2.GaussianBlur(f, (0, 0), sigma / c, borderType=cv2.BORDER_REFLECT_101)
        fields.append(cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) * (alpha / c))
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, gx + fields[0], gy + fields[1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT)


def _odd(rng: np.random.Generator, lo: int = 5, hi: int = 25) -> int:
    return int(rng.choice(np.arange(lo, hi + 1, 2)))


def blend_mask(mask: np.ndarray, rng: np.random.Generator, resize_range: tuple[float, float] = (0.8, 1.25)
               ) -> np.ndarray:
    """LAA-Net's ``get_blend_mask``: random resize, shrink to the interior, blur, back to size.

    The official recipe blurs with a k1×k1 Gaussian, divides by the max and zeroes everything
    below 1, which keeps exactly the pixels whose whole k1×k1 window lies inside the mask; we
    compute that set directly with an erosion (same result, no reliance on float ties).
    Input: float32 mask in [0, 1]; output float32 in [0, 1] (all zero if nothing survives).
    """
    h, w = mask.shape[:2]
    nh = int(rng.integers(int(h * resize_range[0]), int(h * resize_range[1])))
    nw = int(rng.integers(int(w * resize_range[0]), int(w * resize_range[1])))
    m = cv2.resize(mask, (nw, nh), interpolation=cv2.INTER_LINEAR)
    k1 = _odd(rng)
    inner = (m >= 0.999).astype(np.uint8)
    inner = cv2.erode(inner, cv2.getStructuringElement(cv2.MORPH_RECT, (k1, k1)),
                      borderType=cv2.BORDER_CONSTANT, borderValue=0)
    k2 = _odd(rng)
    s2 = float(rng.integers(5, 46))
    m = cv2.GaussianBlur(inner.astype(np.float32), (k2, k2), s2)
    mx = float(m.max())
    if mx <= 0:
        return np.zeros((h, w), np.float32)
    m /= mx
    return cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)


def piecewise_warp(mask: np.ndarray, rng: np.random.Generator, scale: tuple[float, float] = (0.01, 0.15),
                   grid: int = 4) -> np.ndarray:
    """Random piecewise deformation (imgaug ``PiecewiseAffine`` stand-in for the BI mask).

    Control points on a ``grid``×``grid`` lattice move by N(0, s·size), s ~ U(scale); the dense
    field is their bilinear interpolation (piecewise bilinear instead of piecewise affine on a
    triangulation: the same kind of local, smooth, per-cell deformation at a fraction of the cost).
    """
    h, w = mask.shape[:2]
    s = rng.uniform(*scale)
    d = rng.normal(0.0, s, (2, grid, grid)).astype(np.float32)
    dx = cv2.resize(d[0] * w, (w, h), interpolation=cv2.INTER_LINEAR)
    dy = cv2.resize(d[1] * h, (w, h), interpolation=cv2.INTER_LINEAR)
    # imgaug moves the lattice by up to `scale` of the image, so displacements are clipped there.
    dx = np.clip(dx, -scale[1] * w, scale[1] * w)
    dy = np.clip(dy, -scale[1] * h, scale[1] * h)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, gx + dx, gy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def erode_or_dilate(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """50 % erode with an odd k ∈ [1, 21] box, else dilate with an odd k ∈ [1, 5] box."""
    if rng.random() < 0.5:
        k = _odd(rng, 1, 21)
        return cv2.erode(mask, np.ones((k, k), np.uint8))
    k = _odd(rng, 1, 5)
    return cv2.dilate(mask, np.ones((k, k), np.uint8))


# ---------------------------------------------------------------------------------------------
# Joint geometry: flip + one of (crop, scale, erasing) + fit to the network resolution


@dataclass(frozen=True)
class Geometry:
    """One draw of the joint geometric augmentation; ``matrix(src, dst)`` maps source to output."""

    flip: bool = False
    crop: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 as fractions
    zoom: float = 1.0
    erase: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 as fractions

    def matrix(self, src_hw: tuple[int, int], dst: int) -> np.ndarray:
        h, w = src_hw
        x0, y0, x1, y1 = self.crop or (0.0, 0.0, 1.0, 1.0)
        # Region of the source (in pixel-edge coordinates) that fills the output.
        rx0, ry0, rx1, ry1 = x0 * w, y0 * h, x1 * w, y1 * h
        cx, cy = (rx0 + rx1) / 2, (ry0 + ry1) / 2
        half_w, half_h = (rx1 - rx0) / 2 / self.zoom, (ry1 - ry0) / 2 / self.zoom
        sx, sy = dst / (2 * half_w), dst / (2 * half_h)
        # Pixel centres: source x maps to (x + 0.5 - (cx - half_w)) * sx - 0.5.
        a = np.array([[sx, 0.0, (0.5 - (cx - half_w)) * sx - 0.5],
                      [0.0, sy, (0.5 - (cy - half_h)) * sy - 0.5]], np.float64)
        if self.flip:
            a = np.array([[-1.0, 0.0, dst - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([a, [0, 0, 1]])
        return a.astype(np.float32)

    def warp(self, img: np.ndarray, dst: int, interp: int = cv2.INTER_LINEAR) -> np.ndarray:
        out = cv2.warpAffine(img, self.matrix(img.shape[:2], dst), (dst, dst), flags=interp,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if self.erase is not None:
            ex0, ey0, ex1, ey1 = (int(round(v * dst)) for v in self.erase)
            out[ey0:ey1, ex0:ex1] = 0
        return out


def draw_geometry(rng: np.random.Generator, train: bool = True) -> Geometry:
    """Flip p=0.5, then with p=0.5 one of: RandomCrop (cut 0–14 % of height/width), RandomScale
    (zoom 1 ± 0.15 about the centre), RandomErasing (one zero rectangle, 2–33 % of the area,
    aspect 0.3–3.3, masks erased too so the targets agree with the pixels)."""
    if not train:
        return Geometry()
    flip = bool(rng.random() < 0.5)
    if rng.random() >= 0.5:
        return Geometry(flip=flip)
    which = int(rng.integers(3))
    if which == 0:
        a, b = rng.integers(0, 15, 2) / 100.0
        y0, x0 = rng.uniform(0, a), rng.uniform(0, b)
        return Geometry(flip=flip, crop=(x0, y0, x0 + 1 - b, y0 + 1 - a))
    if which == 1:
        return Geometry(flip=flip, zoom=float(rng.uniform(0.85, 1.15)))
    area = rng.uniform(0.02, 0.33)
    aspect = float(np.exp(rng.uniform(np.log(0.3), np.log(1 / 0.3))))
    eh, ew = min(0.99, np.sqrt(area * aspect)), min(0.99, np.sqrt(area / aspect))
    y0, x0 = rng.uniform(0, 1 - eh), rng.uniform(0, 1 - ew)
    return Geometry(flip=flip, erase=(x0, y0, x0 + ew, y0 + eh))
