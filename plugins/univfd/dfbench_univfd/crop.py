"""CLIP's image preprocessing as a dfbench cropper: the whole frame, no face detection.

torchvision's ``Resize(size, BICUBIC)`` + ``CenterCrop(size)`` as ``open_clip``/OpenAI CLIP apply
them: the shorter side becomes ``size`` (PIL bicubic), then the central square is cut. UnivFD
scores whole images, so this is its default "crop"; the ``face`` variant uses ``dlib_align``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dfbench.media.types import FaceCrops


class CenterCropper:
    name = "clip_center"
    version = 1
    temporal = False

    def recipe(self) -> dict[str, Any]:
        return {"cropper": self.name, "version": self.version, "resize": "shorter side, PIL bicubic",
                "crop": "centre", "face_detection": None}

    def __call__(self, frames: np.ndarray, size: int) -> FaceCrops:
        from PIL import Image

        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"croppers take uint8 RGB frames [T, H, W, 3], got {frames.dtype} {frames.shape}")
        out = FaceCrops(crops=[], landmarks=[], boxes=[], n_faces=[], others=[])
        for frame in frames:
            h, w = frame.shape[:2]
            # torchvision's Resize(int): the shorter side becomes `size`, the other int(size * long / short)
            long_side = int(size * max(h, w) / min(h, w))
            nw, nh = (size, long_side) if w <= h else (long_side, size)
            img = np.asarray(Image.fromarray(frame).resize((nw, nh), Image.BICUBIC))
            # torchvision's CenterCrop offsets: int(round((dim - size) / 2))
            top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
            out.crops.append(np.ascontiguousarray(img[top:top + size, left:left + size]))
            out.landmarks.append(None)
            out.boxes.append((0.0, 0.0, float(w), float(h)))
            out.n_faces.append(1)
            out.others.append([])
        return out
