"""End-to-end cost of one video for ``dfbench bench``: decode, faces and the model, timed apart.

Kept beside :mod:`dfbench.bench` (which owns the per-configuration model timings); the workload is
the face-pipeline benchmark's generated 10-s 640x360 talking head unless a video is given.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from .errors import DfbenchError

log = logging.getLogger(__name__)

E2E_SECONDS, E2E_SIZE, E2E_FPS = 10, (640, 360), 25


def generated_video(
    folder: str | Path,
    seconds: int = E2E_SECONDS,
    size: tuple[int, int] = E2E_SIZE,
    fps: int = E2E_FPS,
) -> Path:
    """A talking-head H.264 video (the face-pipeline benchmark's workload); reused when present."""
    from .media.synthetic import face_frames, write_video

    path = Path(folder) / f"talking_head_{seconds}s_{size[0]}x{size[1]}.mp4"
    if not path.exists():
        tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
        write_video(
            tmp,
            face_frames(seconds * fps, size[0], size[1], motion=0.3, seed=7),
            fps=fps,
            codec="h264",
        )
        tmp.replace(path)
    return path


def measure_end_to_end(
    detector: Any,
    video: str | Path,
    *,
    device: str = "cpu",
    precision: str = "fp32",
    channels_last: bool = False,
    batch_size: int = 16,
    repeats: int = 1,
    registry: Any = None,
    backend: str = "torch",
) -> dict[str, Any]:
    """Videos/s through decode + faces + model on ``video``, with the detector's protocol."""
    from .media.decode import probe, read_frames
    from .pipeline import FaceStage
    from .registry import get_registry
    from .specs import VideoItem

    reg = registry or get_registry()
    spec = detector.input_spec
    cropper, _ = reg.build_cropper(spec.cropper, spec.crop_settings)
    face = FaceStage(spec, cropper)
    from .bench import _model_stage, _sync

    model = _model_stage(
        detector,
        backend,
        device=device,
        precision=precision,
        channels_last=channels_last,
        batch_size=batch_size,
    )
    model.flip_test = spec.flip_test  # end to end means the full protocol, flip test included
    item = VideoItem(key="bench/0/real/video", label=0, method="real", path=str(video))
    info = probe(video)
    # Load the face models (dlib files, first-call allocations) outside the timed region.
    try:
        cropper(read_frames(video, [0]), spec.size)
    except Exception:  # best effort: the timed run reports real failures
        log.debug("cropper warm-up failed", exc_info=True)
    runs = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        pv = face.prepare(item)
        if pv.failure:
            raise DfbenchError(
                f"end-to-end benchmark: {video}: {pv.failure}; pass --video with a face video"
            )
        t1 = time.perf_counter()
        model.logits(pv.units)
        _sync(model.device)
        t2 = time.perf_counter()
        runs.append(
            {
                "total": t2 - t0,
                "decode": pv.timing["decode"],
                "faces": pv.timing["faces"],
                "model": t2 - t1,
                "units": len(pv.units),
            }
        )
    best = min(runs, key=lambda r: r["total"])
    return {
        "video": str(video),
        "frames_in_video": info.n_frames,
        "resolution": [info.width, info.height],
        "units": best["units"],
        "unit": spec.unit,
        "flip_test": spec.flip_test,
        "backend": backend,
        "precision": precision,
        "channels_last": bool(model.channels_last),
        "cropper": spec.cropper,
        "repeats": len(runs),
        "videos_per_s": 1.0 / best["total"],
        "videos_per_min": 60.0 / best["total"],
        "seconds": {k: round(best[k], 4) for k in ("decode", "faces", "model", "total")},
    }
