"""Deterministic H.264 writing with PyAV (which ships libx264; OpenCV's writer has no H.264)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def write_mp4(path: str | Path, frames: np.ndarray, fps: int, crf: int) -> None:
    """Encode uint8 RGB ``[T, H, W, 3]`` frames (even H and W) as yuv420p H.264 in MP4.

    For identical bytes on every build: x264 runs single-threaded (its output depends on the
    thread count) and without macroblock-tree rate control - with ``mbtree`` on, the libx264
    in PyAV's wheels gave different bytes for the same frames from run to run (checked here
    with crf 20, 4 runs: 4 different outputs; with ``mbtree=0`` or constant QP: identical).
    """
    import av

    t, h, w, _ = frames.shape
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.thread_count = 1
        stream.options = {"crf": str(int(crf)), "preset": "veryfast", "threads": "1", "mbtree": "0"}
        for frame in frames:
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            ):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
