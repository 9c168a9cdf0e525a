"""A contact sheet of the demo videos, for looking at what the generator made.

One row per method; for each of a few videos: the first frame, and a 2x zoom on the face in two
frames (so mouth motion and temporal artefacts are visible side by side).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def _read_frames(path: Path, wanted: tuple[int, ...]) -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out, i = {}, 0
    while len(out) < len(wanted):
        ok, frame = cap.read()
        if not ok:
            break
        if i in wanted:
            out[i] = frame
        i += 1
    cap.release()
    return out


def _face_zoom(frame: np.ndarray, box: tuple[int, int, int, int] | None, size: int) -> np.ndarray:
    h, w = frame.shape[:2]
    if box is None:
        cx, cy, half = w // 2, h // 2, min(h, w) // 3
    else:
        cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
        half = int(0.75 * (box[2] - box[0]))
    x0, y0 = max(0, cx - half), max(0, cy - half)
    crop = frame[y0 : min(h, cy + half), x0 : min(w, cx + half)]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)


def contact_sheet(
    demo_dir: str | Path,
    out_path: str | Path,
    per_method: int = 2,
    split: str = "test",
    frames: tuple[int, int] = (0, 25),
) -> Path:
    """Write a PNG contact sheet of ``per_method`` videos of every method in ``split``."""
    import json

    from .faces import get_detector

    demo_dir = Path(demo_dir)
    manifest = json.loads((demo_dir / "manifest.json").read_text())
    det = get_detector()
    rows = []
    for method in manifest["methods"]:
        vids = [v for v in manifest["videos"] if v["split"] == split and v["method"] == method]
        cells = []
        for v in vids[:per_method]:
            got = _read_frames(demo_dir / v["path"], frames)
            first = got[frames[0]]
            h = first.shape[0]
            boxes = det.boxes(cv2.cvtColor(first, cv2.COLOR_BGR2RGB))
            box = boxes[0] if len(boxes) == 1 else None
            zooms = [_face_zoom(got[i], box, h) for i in frames if i in got]
            cell = np.hstack([first, *zooms])
            label = f"{method}: {v['identity']}" + (f" <- {v['donor']}" if v["donor"] else "")
            label += f"  faces={len(boxes)}"
            cv2.putText(
                cell, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 255, 255), 1, cv2.LINE_AA
            )
            cells.append(cell)
        if cells:
            rows.append(np.hstack(cells))
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows])
    out_path = Path(out_path)
    cv2.imwrite(str(out_path), sheet)
    return out_path
