"""The official crop recipes as croppers: each detector scored on the crops it was trained on.

Each recipe restates, step by step, the preprocessing of its authors' code (read, not copied):

- ``laanet_official`` (LAA-Net ``images_crop.py`` + test transform): retinaface-pytorch ResNet-50
  at ``max_size`` 2048; the face kept is one that is both larger and more confident than every
  earlier detection; box + ``int(0.25 w)`` / ``int(0.25 h)`` per side, clipped; resized to 256
  (aspect not kept); 5-px margin cut (246); the LAA-Net centre/scale affine to ``size`` (384).
- ``sbi_official`` (SBI ``inference/preprocess.py``): the same detector; every face whose box
  area is at least half the largest's is cropped with ``w/8`` and ``h/8`` margins (``int`` of the
  far edge + 1) and resized to ``size`` (380). The largest is the primary crop, the others go to
  ``FaceCrops.others`` (SBI scores the maximum over them).
- ``recce_official``: RECCE publishes no crop script (its issue #1 asks for one); its README says
  faces were extracted with RetinaFace. The recipe takes the ``Pytorch_Retinaface`` ResNet-50 box,
  enlarged 1.3x about its centre (the FaceForensics++ crop convention) and resized to 299; the
  recipe says the margin is assumed.
- ``lipforensics_official`` and ``dfb``: see :mod:`dfbench.media.recipes_landmarks`.

Which detector ran is decided before the run (``face_detector="auto"``: the official detector when
its weights resolve, else MTCNN) and recorded in ``recipe()`` with the weights' sha256 and a
``fallback`` flag. Each ``crop_*`` function is the pure arithmetic, testable on fixed detections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .croppers import _as_frames, recipe_hash
from .types import FaceCrops

if TYPE_CHECKING:  # the network module imports torch; summaries must not
    from ..faces.retinaface import Detection

# -- the arithmetic ----------------------------------------------------------------------------

def laanet_choose(dets: list[Detection]) -> Detection | None:
    """LAA-Net's face choice: walking the detections, replace the pick only if larger *and* more confident."""
    best, area_max, score_max = None, -1.0, -1.0
    for d in dets:
        area = (d.box[2] - d.box[0]) * (d.box[3] - d.box[1])
        if area > area_max and d.score > score_max:
            best, area_max, score_max = d, area, d.score
    return best


def laanet_box(box, width: int, height: int, padding: float = 0.25) -> tuple[int, int, int, int]:
    """Enlarged, clipped crop box. The detector reports float boxes; slicing needs integers, so
    the edges are truncated with ``int`` (the official script slices with them directly)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return (int(max(0, x0 - int(w * padding))), int(max(0, y0 - int(h * padding))),
            int(min(width, x1 + int(w * padding))), int(min(height, y1 + int(h * padding))))


def laanet_affine(src_size: int, size: int) -> np.ndarray:
    """LAA-Net's test warp of a square ``src_size`` image: centre ((n-1)/2) to centre, (n-1) to (size-1)."""
    k = (size - 1) / (src_size - 1)
    c_src, c_dst = (src_size - 1) / 2.0, (size - 1) / 2.0
    return np.array([[k, 0.0, c_dst - k * c_src], [0.0, k, c_dst - k * c_src]])


def crop_laanet(frame: np.ndarray, det: Detection, size: int = 384, *, base: int = 256, margin: int = 5
                ) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    h, w = frame.shape[:2]
    x0, y0, x1, y1 = laanet_box(det.box, w, h)
    face = cv2.resize(frame[y0:y1, x0:x1], (base, base), interpolation=cv2.INTER_LINEAR)
    inner = face[margin:base - margin, margin:base - margin]
    m = laanet_affine(base - 2 * margin, size)
    crop = cv2.warpAffine(np.ascontiguousarray(inner), m, (size, size), flags=cv2.INTER_LINEAR)
    sx, sy = base / max(x1 - x0, 1), base / max(y1 - y0, 1)
    pts = np.stack([(det.landmarks[:, 0] - x0) * sx - margin, (det.landmarks[:, 1] - y0) * sy - margin], 1)
    return crop, (pts * m[0, 0] + m[:, 2]).astype(np.float32)


def sbi_box(box, width: int, height: int) -> tuple[int, int, int, int]:
    """SBI's test crop box: w/8 and h/8 margins (w/4 halved), far edges ``int(...) + 1``, clipped."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return (max(0, int(x0 - w / 8)), max(0, int(y0 - h / 8)),
            min(width, int(x1 + w / 8) + 1), min(height, int(y1 + h / 8) + 1))


def crop_box_resize(frame: np.ndarray, det: Detection, cbox, size: int) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    x0, y0, x1, y1 = cbox
    crop = cv2.resize(frame[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_LINEAR)
    s = np.array([size / max(x1 - x0, 1), size / max(y1 - y0, 1)])
    return crop, ((det.landmarks - np.array([x0, y0])) * s).astype(np.float32)


def recce_box(box, width: int, height: int, scale: float = 1.3) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * scale / 2, (y1 - y0) * scale / 2
    return (max(0, int(cx - hw)), max(0, int(cy - hh)), min(width, int(cx + hw)), min(height, int(cy + hh)))


def _area(d: Detection) -> float:
    return (d.box[2] - d.box[0]) * (d.box[3] - d.box[1])


# -- croppers ----------------------------------------------------------------------------------

class RecipeCropper:
    """Base: picks the detector (official or fallback), detects batched, crops with the recipe."""

    name = "recipe"
    version = 1
    temporal = False
    backbone = "resnet50"
    convention = "retinaface_pytorch"
    max_size: int | None = 2048
    confidence: float | None = None
    rounds_boxes = True  # retinaface-pytorch's predict_jsons rounds boxes to 2 decimals
    detects_on_device = True
    """Its face detector is a batched network (RetinaFace/MTCNN) that can run on the model's GPU
    (``device``); the runner then needs no CPU face stage (see ``pipeline.face_detection_device``)."""

    def __init__(self, *, face_detector: str = "auto", detector_weights: str | None = None, device: str = "cpu",
                 offline_fallback: str = "mtcnn", identity: str | None = None,
                 retinaface_convention: str | None = None, **settings: Any):
        self.face_detector, self.detector_weights, self.device = face_detector, detector_weights, device
        if retinaface_convention is not None:
            from ..faces.retinaface import CONVENTIONS

            if retinaface_convention not in CONVENTIONS:
                raise ValueError(f"retinaface_convention must be one of {CONVENTIONS}, got {retinaface_convention!r}")
            # the recipe's detector release is fixed, but a user may only have the other release's file
            self.convention = retinaface_convention
            if retinaface_convention == "pytorch_retinaface":
                self.max_size, self.rounds_boxes = None, False
        if identity not in (None, "largest", "most_frequent"):
            raise ValueError(f"identity must be None, 'largest' or 'most_frequent' (the 'mask' policy needs the "
                             f"dataset's masks: dfbench.faces.tracking.one_identity), got {identity!r}")
        # one tracked person per video (dfbench.faces.tracking) instead of a per-frame choice
        self.identity = identity
        # "mtcnn": the recipe's arithmetic on MTCNN boxes; a built-in cropper's name: that cropper
        # (unchanged output, e.g. for weights trained on it) whenever the official detector is absent
        self.offline_fallback = offline_fallback
        if settings:  # a typo in crop_settings must not silently change nothing
            raise ValueError(f"unknown setting(s) {', '.join(sorted(settings))} for cropper {self.name!r}")
        self.options: dict[str, Any] = {}
        self._info: dict[str, Any] | None = None
        self._detector: Any = None
        self._delegate: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_detector"] = None
        state["_delegate"] = None
        return state

    @property
    def delegate(self) -> Any:
        """The built-in cropper that runs instead of this recipe offline, or None."""
        if self.offline_fallback == "mtcnn" or self.face_detector != "auto" or not self.info.get("fallback"):
            return None
        if self._delegate is None:
            from .plugin import CROPPERS

            spec = {c.name: c for c in CROPPERS}.get(self.offline_fallback)
            if spec is None or spec.factory.startswith("dfbench.media.recipes"):
                raise ValueError(f"offline_fallback must be 'mtcnn' or a built-in dlib cropper, got "
                                 f"{self.offline_fallback!r}")
            from ..specs import load_object

            self._delegate = load_object(spec.factory)(**dict(spec.defaults))
        return self._delegate

    @property
    def info(self) -> dict[str, Any]:
        if self._info is None:
            from ..faces.backends import describe

            self._info = describe(self.face_detector, weights=self.detector_weights, backbone=self.backbone)
        return self._info

    @property
    def official(self) -> bool:
        return self.info["face_detector"].startswith("retinaface")

    def _check_release(self) -> None:
        """Warn when the weights file looks like the other RetinaFace release than the convention."""
        import logging

        name = str(self.info.get("detector_weights", ""))
        other = ("Resnet50_Final" in name and self.convention == "retinaface_pytorch") or \
            ("2020-07-20" in name and self.convention == "pytorch_retinaface")
        if other:
            logging.getLogger(__name__).warning(
                "%s: %s looks like the other RetinaFace release than the %s input convention; set the crop "
                "setting retinaface_convention to match the file", self.name, name, self.convention)

    def settings(self) -> dict[str, Any]:
        return dict(self.options)

    def recipe(self) -> dict[str, Any]:
        if self.delegate is not None:
            return {**self.delegate.recipe(), "official_recipe": self.name, "fallback": True,
                    "fallback_reason": f"{self.info.get('fallback_reason')}; ran the {self.offline_fallback!r} cropper"}
        det = {"convention": self.convention, "max_size": self.max_size, "confidence": self.confidence} \
            if self.official else {}
        track = {"identity": self.identity, "tracking": "iou+landmarks"} if self.identity else {}
        return {"cropper": self.name, "version": self.version, **self.info, **det, **self.settings(), **track}

    def recipe_hash(self) -> str:
        return recipe_hash(self.recipe())

    def detect(self, frames: np.ndarray) -> list[list[Detection]]:
        if self._detector is None:
            from ..faces.backends import build_detector

            if self.official:
                self._check_release()

            self._detector, _ = build_detector(self.face_detector, weights=self.detector_weights,
                                               backbone=self.backbone, convention=self.convention,
                                               confidence=self.confidence, max_size=self.max_size,
                                               device=self.device)
        dets = self._detector.detect(list(frames))
        if self.official and self.rounds_boxes:
            from ..faces.backends import round_boxes

            dets = [round_boxes(d) for d in dets]
        return dets

    def crop_frame(self, frame: np.ndarray, dets: list[Detection], size: int
                   ) -> tuple[np.ndarray | None, np.ndarray | None, tuple | None, list[np.ndarray]]:
        raise NotImplementedError

    def __call__(self, frames: np.ndarray, size: int) -> FaceCrops:
        if self.delegate is not None:
            return self.delegate(frames, size)
        frames = _as_frames(frames)
        dets = self.detect(frames)
        if self.identity:
            from ..faces.tracking import one_identity

            n_faces = [len(d) for d in dets]
            out = self.crop_detected(frames, one_identity(dets, self.identity), size)
            out.n_faces = n_faces  # coverage still counts every face the detector saw
            return out
        return self.crop_detected(frames, dets, size)

    def crop_detected(self, frames: np.ndarray, dets: list[list[Detection]], size: int) -> FaceCrops:
        """Crops from given detections (what the recipe tests feed with fixed detector outputs)."""
        out = FaceCrops(crops=[], landmarks=[], boxes=[], n_faces=[], others=[])
        for frame, d in zip(frames, dets, strict=True):
            crop, lms, box, others = self.crop_frame(frame, d, size) if d else (None, None, None, [])
            out.crops.append(crop)
            out.landmarks.append(lms)
            out.boxes.append(box)
            out.n_faces.append(len(d))
            out.others.append(others)
        return out


class LAANetOfficialCropper(RecipeCropper):
    name = "laanet_official"

    def settings(self) -> dict[str, Any]:
        return {"padding": 0.25, "base": 256, "margin": 5, "choice": "larger and more confident",
                "box_edges": "int-truncated", **self.options}

    def crop_frame(self, frame, dets, size):
        d = laanet_choose(dets)
        if d is None:
            return None, None, None, []
        crop, lms = crop_laanet(frame, d, size)
        return crop, lms, tuple(float(v) for v in d.box), []


class SBIOfficialCropper(RecipeCropper):
    name = "sbi_official"
    crops_every_face = True  # the others go to FaceCrops.others (the runner's every-face rule)

    def settings(self) -> dict[str, Any]:
        return {"margin": "w/8, h/8", "faces": "area >= half the largest (others)", **self.options}

    def crop_frame(self, frame, dets, size):
        h, w = frame.shape[:2]
        order = sorted(dets, key=lambda d: -_area(d))
        keep = [d for d in order if _area(d) >= _area(order[0]) / 2]
        crop, lms = crop_box_resize(frame, keep[0], sbi_box(keep[0].box, w, h), size)
        others = [crop_box_resize(frame, d, sbi_box(d.box, w, h), size)[0] for d in keep[1:]]
        return crop, lms, tuple(float(v) for v in keep[0].box), others


class RECCEOfficialCropper(RecipeCropper):
    name = "recce_official"
    convention = "pytorch_retinaface"
    max_size = None
    confidence = 0.5
    rounds_boxes = False

    def settings(self) -> dict[str, Any]:
        return {"scale": 1.3, "margin_source": "assumed (RECCE publishes no crop script)", **self.options}

    def crop_frame(self, frame, dets, size):
        h, w = frame.shape[:2]
        d = max(dets, key=_area)
        crop, lms = crop_box_resize(frame, d, recce_box(d.box, w, h, 1.3), size)
        return crop, lms, tuple(float(v) for v in d.box), []


def crop_summary(recipe: dict[str, Any] | None) -> str | None:
    """One line for run summaries: which crop recipe ran, on which face models, and whether it fell back."""
    if not recipe:
        return None
    name = recipe.get("official_recipe") or recipe.get("cropper", "?")
    ran = recipe.get("cropper", "?")
    models = [str(recipe[k]) for k in ("face_detector", "detector", "landmarks") if recipe.get(k)]
    line = f"{name}" + (f" (ran {ran})" if ran != name else "") + (f" on {' + '.join(dict.fromkeys(models))}" if models else "")
    if recipe.get("fallback"):
        line += f"  [crops: fallback: {recipe.get('fallback_reason') or 'offline stand-in'}]"
    return line
