"""Tiny generated media for tests, benchmarks and demos (no download, no dataset).

The face is the public-domain astronaut portrait shipped with scikit-image
(``skimage.data.astronaut()``, NASA photo of Eileen Collins), cut to the head so that dlib's
frontal detector finds exactly one face in it. Videos move and scale that head over a plain
background so that detection, landmarks and temporal smoothing all see realistic motion.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

# Head-and-shoulders region of the 512x512 astronaut image: contains the face (dlib box about
# (179, 83)-(266, 170)) and excludes the mission patch lower down, which dlib's HOG model
# otherwise reports as a second, larger "face".
_HEAD_REGION = (slice(10, 270), slice(110, 340))


def astronaut_head() -> np.ndarray:
    """The astronaut's head as uint8 RGB ``[260, 230, 3]`` (one face for dlib)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[_HEAD_REGION])


def face_frames(
    n: int,
    width: int = 640,
    height: int = 360,
    *,
    face_height: int | None = None,
    motion: float = 1.0,
    seed: int = 0,
) -> np.ndarray:
    """``n`` RGB frames ``[n, height, width, 3]`` with the astronaut head moving over a background.

    The head drifts on a smooth path and breathes in scale by ±5 %, so consecutive frames differ
    like a talking-head video. ``motion=0`` gives a still face. Deterministic for a given seed.
    """
    import cv2

    head = astronaut_head()
    rng = np.random.default_rng(seed)
    base_h = face_height or int(height * 0.8)
    bg_colour = rng.integers(40, 200, size=3).astype(np.uint8)
    frames = np.empty((n, height, width, 3), np.uint8)
    phase = rng.uniform(0, 2 * np.pi)
    for i in range(n):
        t = i / max(n - 1, 1)
        s = base_h * (1.0 + 0.05 * motion * np.sin(2 * np.pi * t + phase)) / head.shape[0]
        hh, ww = max(int(head.shape[0] * s), 8), max(int(head.shape[1] * s), 8)
        hh, ww = min(hh, height), min(ww, width)
        patch = cv2.resize(head, (ww, hh), interpolation=cv2.INTER_AREA)
        cx = width / 2 + motion * 0.15 * width * np.sin(2 * np.pi * t * 1.3 + phase)
        cy = height / 2 + motion * 0.05 * height * np.cos(2 * np.pi * t + phase)
        x0 = int(np.clip(cx - ww / 2, 0, width - ww))
        y0 = int(np.clip(cy - hh / 2, 0, height - hh))
        frame = frames[i]
        frame[:] = bg_colour
        frame[y0:y0 + hh, x0:x0 + ww] = patch
    return frames


def noise_frames(n: int, width: int = 160, height: int = 120, seed: int = 0) -> np.ndarray:
    """Smoothed random noise frames: a video in which no face exists."""
    import cv2

    rng = np.random.default_rng(seed)
    out = rng.integers(0, 256, size=(n, height, width, 3), dtype=np.uint8)
    for i in range(n):
        out[i] = cv2.GaussianBlur(out[i], (5, 5), 0)
    return out


def write_video(
    path: str | Path,
    frames: np.ndarray | Sequence[np.ndarray],
    fps: float = 25.0,
    codec: str = "mp4v",
) -> Path:
    """Write RGB uint8 frames to ``path``.

    ``codec="mp4v"`` (MPEG-4 part 2) and ``"MJPG"`` use OpenCV's writer; ``"h264"`` and
    ``"hevc"`` use PyAV, because OpenCV's wheel ships no H.264 encoder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = list(frames)
    if not frames:
        raise ValueError("write_video needs at least one frame")
    h, w = frames[0].shape[:2]
    if codec in ("h264", "hevc", "libx264", "libx265"):
        import av

        name = {"h264": "libx264", "hevc": "libx265"}.get(codec, codec)
        with av.open(str(path), "w") as container:
            stream = container.add_stream(name, rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            for f in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        return path
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {codec!r} video to {path}")
    try:
        for f in frames:
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path


def write_frames_folder(folder: str | Path, frames: np.ndarray, ext: str = "png") -> Path:
    """Write frames as ``1.png, 2.png, ... 10.png`` (names that sort wrongly as plain strings)."""
    import cv2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i + 1}.{ext}"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return folder
