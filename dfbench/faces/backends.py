"""Choosing a face detector for a crop recipe: the official one when its weights are present, else a fallback.

A recipe names the detector its authors used (``retinaface`` with a backbone and input
convention). :func:`build_detector` with ``kind="auto"`` uses it when the weights resolve (setting
``weights``, else the backbone's environment variable) and otherwise MTCNN from the
facenet-pytorch wheel, the closest offline detector (same five points, a WIDER-FACE-style box).
Asking for ``retinaface`` explicitly never falls back: missing weights are an error that says
where to get them. The returned info dict (detector, weights sha256, ``fallback``) goes into the
cropper's recipe, hence into the protocol hash and ``results.json``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DfbenchError, WeightsError
from .retinaface import Detection

DETECTORS = ("auto", "retinaface", "mtcnn", "dlib")


class DlibBackend:
    """dlib HOG boxes with five points derived from the 68 landmarks (eye centres, nose, mouth corners)."""

    def __init__(self, **analyzer_args: Any):
        self.analyzer_args = analyzer_args

    def recipe(self) -> dict[str, Any]:
        from ..media.faces import FaceAnalyzer

        return {**FaceAnalyzer(**self.analyzer_args).recipe(), "five_points": "dlib68 eye centres, 30, 48, 54"}

    def detect(self, frames) -> list[list[Detection]]:
        from .agreement import dlib_detect

        return dlib_detect(frames, **self.analyzer_args)


def resolve_retinaface(weights: str | None, backbone: str):
    """The weights file of RetinaFace ``backbone`` or None when neither ``weights`` nor its env var is set."""
    from . import retinaface as rf
    from .weights import resolve_model_file

    try:
        return resolve_model_file(weights, env=rf.ENV[backbone], candidates=rf.FILES[backbone],
                                  what=f"RetinaFace {backbone}", where=rf.WHERE)
    except WeightsError:
        import os

        if weights or os.environ.get(rf.ENV[backbone]):  # a named file that is wrong must not silently fall back
            raise
        return None


def describe(kind: str = "auto", *, weights: str | None = None, backbone: str = "resnet50") -> dict[str, Any]:
    """Which detector ``build_detector`` would run, without loading it (for the protocol)."""
    if kind not in DETECTORS:
        raise DfbenchError(f"unknown face detector {kind!r}; choose from {', '.join(DETECTORS)}")
    if kind in ("auto", "retinaface"):
        mf = resolve_retinaface(weights, backbone)
        if mf is not None:
            return {"face_detector": f"retinaface_{backbone}", "detector_weights": mf.source,
                    "detector_weights_sha256": mf.sha256, "fallback": False}
        if kind == "retinaface":
            from . import retinaface as rf

            rf.load_retinaface(weights, backbone)  # raises the error naming where to get the weights
        return {"face_detector": "mtcnn_facenet_pytorch", "detector_weights": "facenet-pytorch wheel",
                "detector_weights_sha256": _mtcnn_sha(), "fallback": True,
                "fallback_reason": f"no RetinaFace {backbone} weights (setting 'detector_weights' or "
                                   f"${_env(backbone)}); MTCNN stands in"}
    if kind == "mtcnn":
        return {"face_detector": "mtcnn_facenet_pytorch", "detector_weights": "facenet-pytorch wheel",
                "detector_weights_sha256": _mtcnn_sha(), "fallback": False}
    return {"face_detector": "dlib_hog", "detector_weights": "dlib built-in", "detector_weights_sha256": None,
            "fallback": False}


def _env(backbone: str) -> str:
    from .retinaface import ENV

    return ENV[backbone]


def _mtcnn_sha() -> str:
    import hashlib

    from .mtcnn import FILES, weights_dir

    d = weights_dir()
    h = hashlib.sha256()
    for name in FILES:
        h.update((d / name).read_bytes())
    return h.hexdigest()


def build_detector(kind: str = "auto", *, weights: str | None = None, backbone: str = "resnet50",
                   convention: str = "pytorch_retinaface", confidence: float | None = None,
                   max_size: int | None = None, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """(detector with ``detect(frames) -> list[list[Detection]]``, info) for ``kind``."""
    info = describe(kind, weights=weights, backbone=backbone)
    if info["face_detector"].startswith("retinaface"):
        from . import retinaface as rf

        net, mf = rf.load_retinaface(weights, backbone)
        if confidence is None:  # each convention's own default threshold
            confidence = 0.7 if convention == "retinaface_pytorch" else 0.02
        det: Any = rf.RetinaFaceDetector(net, convention=convention, confidence=confidence, max_size=max_size,
                                         device=device, weights=mf)
        info.update(det.recipe())
    elif info["face_detector"].startswith("mtcnn"):
        from .mtcnn import MTCNNDetector

        det = MTCNNDetector(device=device)
        info.update(det.recipe())
    else:
        det = DlibBackend()
    return det, info


def round_boxes(dets: list[Detection], digits: int = 2) -> list[Detection]:
    """retinaface-pytorch reports boxes rounded to two decimals; recipes that call it see those."""
    return [Detection(tuple(float(np.round(v, digits)) for v in d.box), float(np.round(d.score, digits)),
                      np.round(d.landmarks.astype(np.float64), digits).astype(np.float32)) for d in dets]
