"""``dfbench predict``: score an image, a video or a folder of them, without a dataset.

Each file goes through exactly the evaluation pipeline (sampling, cropper, missing-face policy,
flip test, aggregation) of the detector's protocol, so a score here equals its score in a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .metrics import aggregate_videos, sigmoid

VIDEO_EXT = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


def media_items(path: str | Path):
    """VideoItems for a file, or for every image/video file under a folder (sorted)."""
    from .specs import VideoItem

    p = Path(path)
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_EXT | IMAGE_EXT)
    items = []
    for f in files:
        kind = "image" if f.suffix.lower() in IMAGE_EXT else "video"
        rel = f.name if p.is_file() else str(f.relative_to(p))
        items.append(VideoItem(key=f"predict/unknown/{kind}/{rel}", label=0, method=kind, path=str(f), kind=kind))
    return items


def predict_paths(path: str | Path, detector: str, *, weights: str | None = None, device: str = "cpu",
                  precision: str = "fp32", missing_face: str = "skip", explain_dir: str | Path | None = None,
                  progress: bool = True) -> list[dict[str, Any]]:
    from .build import build_detector
    from .pipeline import FaceStage, ModelStage
    from .registry import get_registry

    reg = get_registry()
    det = build_detector(detector, weights=weights, registry=reg)
    spec = det.input_spec
    cropper, _ = reg.build_cropper(spec.cropper, spec.crop_settings)
    face = FaceStage(spec, cropper, missing_face=missing_face)
    model = ModelStage(det, device=device, precision=precision, flip_test=spec.flip_test, batch_size=8)
    items = media_items(path)
    rows = []
    iterator = items
    if progress and len(items) > 1:
        from tqdm.auto import tqdm

        iterator = tqdm(items, desc="predict", unit="file")
    for it in iterator:
        pv = face.prepare(it)
        row: dict[str, Any] = {"path": it.path, "p_fake": None, "logit": None, "units": 0, "error": pv.failure}
        if pv.failure is None:
            logits = model.logits(pv.units)
            for j in pv.missing_units:
                logits[j] = 0.0
            _, _, vs = aggregate_videos([it.key] * len(logits), [0] * len(logits), logits, spec.aggregation)
            row.update(logit=float(vs[0]), p_fake=float(sigmoid(vs)[0]), units=len(logits),
                       unit_logits=[float(x) for x in logits], frames=list(map(int, pv.unit_index)))
            if explain_dir is not None:
                from .explain import write_explanations

                row["explanations"] = write_explanations(det, model, pv, np.asarray(logits), Path(explain_dir))
        rows.append(row)
    if not det.trained:
        for r in rows:
            r["error"] = (r["error"] + "; " if r["error"] else "") + "UNTRAINED detector: score is meaningless"
    return rows
