"""``dfbench faces VIDEO``: a contact sheet of what a detector sees.

One row per sampled frame: the frame with the chosen face box (green), then the crop the
detector receives with its landmarks (red), then the crops of extra faces the cropper kept. A header line names the crop recipe, its face models and whether a fallback
ran, so a person can check the preprocessing before trusting a number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _fit_height(img: np.ndarray, height: int) -> np.ndarray:
    import cv2

    if img.ndim == 2 or img.shape[2] == 1:
        img = cv2.cvtColor(img.reshape(img.shape[:2]), cv2.COLOR_GRAY2RGB)
    h, w = img.shape[:2]
    width = max(int(round(w * height / h)), 1)
    interp = cv2.INTER_AREA if h > height else cv2.INTER_NEAREST
    return cv2.resize(np.ascontiguousarray(img), (width, height), interpolation=interp)


def _text(img: np.ndarray, text: str, y: int = 18) -> None:
    import cv2

    cv2.putText(img, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)


def render_rows(frames: np.ndarray, crops: Any, indices: list[int], header: str, row_height: int = 256
                ) -> np.ndarray:
    """The sheet as an RGB uint8 image from frames and the cropper's :class:`FaceCrops`."""
    import cv2

    rows = []
    for i, frame in enumerate(frames):
        shown = frame.copy()
        scale = row_height / frame.shape[0]
        if crops.boxes[i] is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in crops.boxes[i])
            cv2.rectangle(shown, (x0, y0), (x1, y1), (0, 255, 0), max(2, int(2 / scale)))
        cells = [_fit_height(shown, row_height)]
        _text(cells[0], f"frame {indices[i]}  faces {crops.n_faces[i]}")
        crop = crops.crops[i]
        if crop is None:
            blank = np.full((row_height, row_height, 3), 40, np.uint8)
            _text(blank, "no face", row_height // 2)
            cells.append(blank)
        else:
            cell = _fit_height(crop, row_height)
            lms = crops.landmarks[i] if i < len(crops.landmarks) else None
            if lms is not None:
                k = row_height / crop.shape[0]
                for x, y in np.asarray(lms, np.float64):
                    cv2.circle(cell, (int(round(x * k)), int(round(y * k))), 2, (255, 0, 0), -1)
            cells.append(cell)
        for other in (crops.others[i] if i < len(crops.others) else []):
            cells.append(_fit_height(other, row_height))
        rows.append(np.concatenate(cells, 1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows]
    head = np.full((28, width, 3), 20, np.uint8)
    _text(head, header[:160])
    return np.concatenate([head, *rows], 0)


def contact_sheet(video: str | Path, cropper: Any, size: int, out: str | Path, *, n_frames: int = 6,
                  row_height: int = 256) -> str:
    """Write the sheet PNG for ``n_frames`` evenly spaced frames of ``video``; returns a summary."""
    import cv2

    from .decode import probe, read_frames
    from .recipes import crop_summary

    n = probe(video).n_frames
    if getattr(cropper, "temporal", False):
        idx = list(range(min(n, max(n_frames, 12))))  # temporal croppers smooth over consecutive frames
    else:
        idx = sorted(set(np.linspace(0, n - 1, min(n_frames, n)).astype(int).tolist()))
    frames = read_frames(video, idx)
    crops = cropper(frames, size)
    recipe = cropper.recipe() if hasattr(cropper, "recipe") else {}
    header = crop_summary(recipe) or str(getattr(cropper, "name", "cropper"))
    sheet = render_rows(frames, crops, idx, header, row_height)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        from ..errors import DfbenchError

        raise DfbenchError(f"could not write {out}: check the directory exists and is writable")
    found = sum(c is not None for c in crops.crops)
    return f"{len(idx)} frames, {found} with a face; crops: {header}"
