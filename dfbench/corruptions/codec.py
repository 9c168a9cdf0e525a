"""Encode a clip with a real video codec (PyAV: libx264 / libx265) and decode it back.

Used by the ``compression`` (DeeperForensics VC, H.264) and ``h265`` corruptions. The official VC
runs ``ffmpeg -i in.mp4 -crf N -y out.mp4`` on the video file; the ffmpeg tool is not a Python
dependency, so we drive the same encoder through PyAV with the settings ffmpeg would pick for an
``.mp4`` output: libx264, preset ``medium``, the level's CRF, yuv420p.

Deviations, and why:

* The encoder runs single-threaded. x264/x265 output depends slightly on the number of frame
  threads, and that number would otherwise follow the machine's core count, so results would
  differ between a laptop and a cluster node. One thread makes a run reproducible everywhere.
* yuv420p needs even dimensions (ffmpeg's libx264 refuses odd ones). Odd frames are padded by
  repeating the last row/column and cropped back after decoding, so every frame size works.
* The frame rate is not part of our frames-in/frames-out API; it is fixed at 25 fps (the
  common FF++ rate). x264's CRF rate control is nearly independent of it.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_FPS = 25

# Quiet and single-threaded encoders. "threads" is the libavcodec option (x264 honours it);
# libx265 takes its own thread settings, and its banner goes to stderr unless log-level is set.
def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _x264_options() -> dict[str, str]:
    opts = {"preset": "medium", "threads": "1"}
    flags = _cpu_flags()
    # x264's AVX-512 kernels with mb-tree rate control gave different bitstreams for identical
    # input (4 distinct outputs in 30 encodes here); capping the kernels at AVX2 made every encode
    # identical while keeping the default rate control of the official `ffmpeg -crf` call. Only
    # where AVX2 exists: forcing it elsewhere would execute illegal instructions.
    if "avx512f" in flags and "avx2" in flags:
        opts["x264-params"] = "asm=avx2"
    return opts


_ENCODER_OPTIONS: dict[str, dict[str, str]] = {
    "libx264": _x264_options(),
    "libx265": {"preset": "medium", "x265-params": "log-level=error:frame-threads=1:pools=1"},
}


# The bitstream is written as a raw Annex-B elementary stream, not into mp4: FFmpeg's libx265
# wrapper (in the FFmpeg PyAV 18 ships) sometimes leaves the first packet's dts uninitialised,
# and the mp4 muxer then fails ("not yet implemented") or writes garbage timestamps at random.
# The container changes neither the coded pictures nor the decoded frames; the size we report
# is the bitstream alone (an mp4 adds a few hundred bytes of headers and index).
_RAW_FORMAT = {"libx264": "h264", "libx265": "hevc"}


@dataclass(frozen=True)
class Transcoded:
    """Decoded frames (same shape as the input clip) and the size of the encoded bitstream."""

    frames: np.ndarray
    nbytes: int


def _write(container, packets) -> None:
    for packet in packets:
        # A raw stream stores no timestamps; clearing them keeps the muxer from validating the
        # garbage dts the libx265 wrapper may hand over (see _RAW_FORMAT).
        packet.pts = packet.dts = None
        container.mux(packet)


def transcode(
    clip: np.ndarray,
    *,
    codec: str,
    crf: int,
    fps: int = DEFAULT_FPS,
) -> Transcoded:
    """Encode uint8 RGB ``[T, H, W, 3]`` frames with ``codec`` at ``crf`` in memory, decode them
    and return the decoded frames and the bitstream size in bytes."""
    import av  # lazy: PyAV is only needed by the codec corruptions

    if codec not in _ENCODER_OPTIONS:
        raise ValueError(f"unsupported codec {codec!r}; expected one of {sorted(_ENCODER_OPTIONS)}")
    t, h, w, _ = clip.shape
    pad_h, pad_w = h % 2, w % 2
    if pad_h or pad_w:
        clip = np.pad(clip, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=_RAW_FORMAT[codec]) as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height = w + pad_w, h + pad_h
        stream.pix_fmt = "yuv420p"
        stream.options = {**_ENCODER_OPTIONS[codec], "crf": str(crf)}
        for i, frame in enumerate(clip):
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            video_frame.pts = i
            _write(container, stream.encode(video_frame))
        _write(container, stream.encode(None))  # flush the encoder's delayed (B-)frames
    data = buffer.getvalue()

    decoded = np.empty((t, h, w, 3), dtype=np.uint8)
    n = 0
    with av.open(io.BytesIO(data), mode="r", format=_RAW_FORMAT[codec]) as container:
        for frame in container.decode(video=0):
            if n < t:
                decoded[n] = frame.to_ndarray(format="rgb24")[:h, :w]
            n += 1
    if n != t:
        # An encoder that drops or duplicates frames would silently shift every later frame.
        raise RuntimeError(f"{codec} round trip returned {n} frames for {t} input frames")
    log.debug("%s crf=%s: %d frames %dx%d -> %d bytes", codec, crf, t, w, h, len(data))
    return Transcoded(decoded, len(data))
