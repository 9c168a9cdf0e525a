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
    if not files:
        from .errors import DfbenchError

        raise DfbenchError(f"no media files found in {p} (looked for {', '.join(sorted(VIDEO_EXT | IMAGE_EXT))}); "
                           "pass a video, an image or a folder holding some")
    items = []
    for f in files:
        kind = "image" if f.suffix.lower() in IMAGE_EXT else "video"
        rel = f.name if p.is_file() else str(f.relative_to(p))
        items.append(VideoItem(key=f"predict/unknown/{kind}/{rel}", label=0, method=kind, path=str(f), kind=kind))
    return items


def predict_paths(path: str | Path, detector: str, *, weights: str | None = None, device: str = "cpu",
                  precision: str = "fp32", missing_face: str | None = None, explain_dir: str | Path | None = None,
                  progress: bool = True, allow_untrained: bool = False) -> list[dict[str, Any]]:
    """One row per media file: ``p_fake`` (None when the file failed, with ``error``).

    ``missing_face`` defaults to the detector's official rule; an untrained detector is refused
    unless ``allow_untrained`` (then every row says so)."""
    from .build import build_detector
    from .errors import DfbenchError
    from .pipeline import FaceStage, ModelStage
    from .registry import get_registry
    from .run_identity import check_device
    from .runner import untrained_message

    check_device(device)
    items = media_items(path)
    reg = get_registry()
    det = build_detector(detector, weights=weights, registry=reg)
    if not det.trained and not allow_untrained:
        raise DfbenchError(untrained_message(det, reg))
    spec = det.input_spec
    cropper, _ = reg.build_cropper(spec.cropper, spec.crop_settings)
    face = FaceStage(spec, cropper, missing_face=missing_face or spec.missing_face)
    model = ModelStage(det, device=device, precision=precision, flip_test=spec.flip_test, batch_size=8)
    rows = []
    iterator = items
    if progress and len(items) > 1:
        from tqdm.auto import tqdm

        iterator = tqdm(items, desc="predict", unit="file")
    for it in iterator:
        pv = face.prepare(it)
        row: dict[str, Any] = {"path": it.path, "p_fake": None, "logit": None, "units": 0, "error": pv.failure}
        if pv.failure is None:
            try:
                logits = model.video_logits(pv)
            except Exception as e:  # one file the model cannot score never ends the listing
                row["error"] = f"{type(e).__name__}: {e}"
                rows.append(row)
                continue
            if pv.faceless:
                row["error"] = "no face: scored 0.5 (missing-face policy score_half)"
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
