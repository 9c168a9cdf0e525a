"""Turning one still face into a short "talking" video: mouth motion, camera, light, compression.

Everything here is applied identically to real and fake videos, and every nuisance parameter is
drawn from the same distribution whatever the label, so that no detector can separate the classes
by camera motion, lighting, noise or compression level.

Rendering happens in two spaces. The *source* space is the identity's still image: the mouth rig
opens and closes the jaw there, and the fakes are composited there (so a swapped face moves its
mouth exactly like the real one would). The *camera* then maps source to a small output frame
with a similarity transform (pan, zoom, roll) and the photometric effects are applied in the
output frame, as a real camera would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from .faces import FaceSource


def _smoothstep(x: np.ndarray | float, lo: float, hi: float) -> np.ndarray:
    t = np.clip((np.asarray(x, np.float32) - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def speech_signal(rng: np.random.Generator, n_frames: int, fps: float = 25.0) -> np.ndarray:
    """Mouth opening in [0, 1] per frame: syllables of 160-360 ms with pauses, like speech."""
    a = np.zeros(n_frames, np.float32)
    t = int(rng.integers(0, 6))
    per_syllable = fps / 25.0
    while t < n_frames:
        if rng.random() < 0.15:  # a short pause between words
            t += int(rng.integers(6, 14) * per_syllable)
            continue
        dur = max(3, int(rng.integers(4, 10) * per_syllable))
        amp = float(rng.uniform(0.35, 1.0))
        bump = amp * np.sin(np.pi * (np.arange(dur) + 0.5) / dur) ** 2
        end = min(n_frames, t + dur)
        a[t:end] = np.maximum(a[t:end], bump[: end - t])
        t += dur - int(rng.integers(0, 2))  # syllables may overlap by a frame (co-articulation)
    return a


class MouthRig:
    """Opens the jaw of a still face by a smooth backward warp plus a dark mouth cavity.

    The displacement field is a product of smooth ramps in face coordinates (along the eyes-chin
    axis ``d`` and across it), so the upper face stays still, the lower lip and chin move down
    together and the neck below the chin absorbs the stretch: no seam appears anywhere. It is
    computed once per video; each frame only scales it by the opening amount.
    """

    OPEN_FRACTION = 0.11
    """Maximal jaw drop as a fraction of the eyes-to-chin distance."""

    def __init__(self, source: FaceSource, static: np.ndarray, landmarks: np.ndarray | None = None):
        lm = (source.landmarks if landmarks is None else landmarks).astype(np.float32)
        eyes = lm[36:48].mean(axis=0)
        chin = lm[8]
        self.fh = float(np.linalg.norm(chin - eyes))
        self.fw = float(np.linalg.norm(lm[16] - lm[0]))
        self.d = (chin - eyes) / self.fh
        self.r = np.array([self.d[1], -self.d[0]], np.float32)
        self.m = lm[60:68].mean(axis=0)
        self.mouth_w = float(np.linalg.norm(lm[54] - lm[48]))
        self.angle = float(np.degrees(np.arctan2(-self.d[0], self.d[1])))
        h, w = static.shape[:2]
        corners = [
            self.m + u * self.fw * self.r + v * self.fh * self.d
            for u in (-0.8, 0.8)
            for v in (-0.3, 1.0)
        ]
        corners = np.array(corners)
        self.x0, self.y0 = (max(0, int(np.floor(c))) for c in corners.min(axis=0))
        self.x1 = min(w, int(np.ceil(corners[:, 0].max())) + 1)
        self.y1 = min(h, int(np.ceil(corners[:, 1].max())) + 1)
        ys, xs = np.mgrid[self.y0 : self.y1, self.x0 : self.x1].astype(np.float32)
        self.xs, self.ys = xs, ys
        self.weight = self._weight(np.stack([xs, ys], axis=-1))
        self.lower_lip = lm[[60, 67, 66, 65, 64]]
        self.lower_lip_w = self._weight(self.lower_lip)
        # The cavity is the lips' own colour, much darker: a red-brown that matches the lighting.
        poly = np.round(lm[48:60]).astype(np.int32)
        lip_mask = np.zeros(static.shape[:2], np.uint8)
        cv2.fillPoly(lip_mask, [poly], 1)
        lip_colour = np.asarray(cv2.mean(static, mask=lip_mask)[:3], np.float32)
        self.cavity = 0.28 * lip_colour + np.array([4.0, 0.0, 0.0], np.float32)

    @property
    def roi(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def _weight(self, p: np.ndarray) -> np.ndarray:
        rel = p - self.m
        u = (rel @ self.r) / self.fw
        v = (rel @ self.d) / self.fh
        return (
            _smoothstep(v, -0.02, 0.06)
            * (1.0 - _smoothstep(v, 0.55, 0.95))
            * np.exp(-(u**2) / (2 * 0.3**2))
        ).astype(np.float32)

    def render(self, static: np.ndarray, opening: float) -> np.ndarray:
        """The ROI of ``static`` with the mouth opened by ``opening`` in [0, 1]."""
        drop = float(opening) * self.OPEN_FRACTION * self.fh
        if drop < 0.05:
            return static[self.roi].copy()
        map_x = self.xs - self.weight * drop * self.d[0]
        map_y = self.ys - self.weight * drop * self.d[1]
        out = cv2.remap(static, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        moved = self.lower_lip + (self.lower_lip_w * drop)[:, None] * self.d
        gap = np.concatenate([self.lower_lip, moved[::-1]]) - (self.x0, self.y0)
        mask = np.zeros(out.shape[:2], np.float32)
        cv2.fillPoly(mask, [np.round(gap * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
        mask = cv2.GaussianBlur(mask, (0, 0), 0.8)[..., None] * min(1.0, drop / 2.5) * 0.92
        return (out * (1.0 - mask) + self.cavity * mask + 0.5).astype(np.uint8)


@dataclass
class Nuisance:
    """Per-frame camera, lighting and compression parameters of one video."""

    offset: np.ndarray
    """``[T, 2]`` pan of the face centre in output pixels."""
    zoom: np.ndarray
    angle: np.ndarray
    """Camera roll in degrees."""
    gain: np.ndarray
    grad: np.ndarray
    """``[T, 2]`` linear light falloff across x and y (a moving light source)."""
    temperature: np.ndarray
    """Colour-temperature drift: R gain ``1 + t``, B gain ``1 - t``."""
    noise_sigma: float
    jpeg_quality: np.ndarray
    """Per-frame JPEG quality: the stream changes compression level mid-video."""
    crf: int
    """H.264 constant rate factor of the final encode."""


def sample_nuisance(rng: np.random.Generator, n_frames: int, fps: float = 25.0) -> Nuisance:
    t = np.arange(n_frames, dtype=np.float32) / fps
    span = max(t[-1], 1e-6)
    lin = t / span

    def ramp(lo: float, hi: float) -> np.ndarray:
        a, b = rng.uniform(lo, hi, 2)
        return (a + (b - a) * lin).astype(np.float32)

    amp = rng.uniform([4.0, 2.0], [14.0, 8.0])
    freq = rng.uniform(0.2, 0.7, 2)
    phase = rng.uniform(0, 2 * np.pi, 2)
    drift = rng.uniform(-10, 10, 2)
    offset = amp * np.sin(2 * np.pi * freq * t[:, None] + phase) + drift * lin[:, None]
    # Hand-held shake: low-pass filtered noise, sub-pixel to a pixel.
    shake = rng.normal(0, 0.9, (n_frames + 4, 2))
    shake = np.stack([np.convolve(shake[:, i], np.ones(5) / 5, "valid") for i in range(2)], 1)
    offset = (offset + shake[:n_frames]).astype(np.float32)
    zoom = ramp(0.95, 1.12)
    angle = ramp(-4.0, 4.0) + 0.4 * np.sin(
        2 * np.pi * rng.uniform(0.3, 0.8) * t + rng.uniform(0, 6.3)
    )
    gain = ramp(0.85, 1.1) * (1 + 0.02 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
    grad = np.stack([ramp(-0.25, 0.25), ramp(-0.1, 0.1)], axis=1)
    temperature = ramp(-0.06, 0.06)
    q = rng.integers(50, 96, 2)
    switch = int(rng.integers(n_frames // 3, 2 * n_frames // 3)) if rng.random() < 0.7 else n_frames
    jpeg = np.where(np.arange(n_frames) < switch, q[0], q[1]).astype(np.int32)
    return Nuisance(
        offset,
        zoom,
        angle.astype(np.float32),
        gain.astype(np.float32),
        grad,
        temperature,
        float(rng.uniform(0.5, 2.5)),
        jpeg,
        int(rng.integers(18, 29)),
    )


MouthOverlay = Callable[[int, np.ndarray], np.ndarray]
"""``overlay(frame_index, roi) -> roi``: a per-frame edit of the mouth ROI (used by ``lipsync``)."""


def camera_matrix(
    source: FaceSource, face_px: float, nuis: Nuisance, i: int, size: tuple[int, int]
) -> np.ndarray:
    """Similarity transform source -> output frame for frame ``i``."""
    w, h = size
    box_w = source.box[2] - source.box[0]
    s = face_px / box_w * float(nuis.zoom[i])
    th = np.radians(float(nuis.angle[i]))
    rot = s * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]], np.float32)
    target = np.array([w / 2.0, h * 0.47], np.float32) + nuis.offset[i]
    return np.hstack([rot, (target - rot @ source.centre)[:, None]]).astype(np.float32)


def render_frames(
    source: FaceSource,
    static: np.ndarray,
    speech: np.ndarray,
    nuis: Nuisance,
    rng: np.random.Generator,
    size: tuple[int, int],
    face_px: float,
    rig: MouthRig | None = None,
    overlay: MouthOverlay | None = None,
) -> np.ndarray:
    """Animate ``static`` (the identity's image, possibly with a forged face composited in).

    Returns uint8 RGB frames ``[T, H, W, 3]`` exactly as they go to the video encoder.
    """
    rig = rig or MouthRig(source, static)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xn, yn = (xx - w / 2) / w, (yy - h / 2) / h
    work = static.copy()
    # OpenCV's Gaussian generator is ~3x faster than numpy's here and noise is a large share of
    # the build time; it is seeded from ``rng`` so the build stays deterministic.
    cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
    noise = np.empty((h, w, 3), np.float32)
    frames = np.empty((len(speech), h, w, 3), np.uint8)
    for i, opening in enumerate(speech):
        roi = rig.render(static, float(opening))
        if overlay is not None:
            roi = overlay(i, roi)
        work[rig.roi] = roi
        m = camera_matrix(source, face_px, nuis, i, size)
        frame = cv2.warpAffine(
            work, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        ).astype(np.float32)
        light = nuis.gain[i] * (1.0 + nuis.grad[i, 0] * xn + nuis.grad[i, 1] * yn)
        wb = np.array([1 + nuis.temperature[i], 1.0, 1 - nuis.temperature[i]], np.float32)
        frame = frame * light[..., None] * wb
        cv2.randn(noise, 0.0, nuis.noise_sigma)
        frame += noise
        frame = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(
            ".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(nuis.jpeg_quality[i])]
        )
        frames[i] = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return frames
