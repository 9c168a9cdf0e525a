"""Data passed between the face pipeline and the runner."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FaceCrops:
    """What a cropper returns for a sequence of frames.

    One entry per input frame, in order: ``crops[i]`` is a uint8 ``[S, S, C]`` crop (C = 3 RGB or
    1 gray) or ``None`` when no face was found in frame ``i``; ``landmarks[i]`` are the landmarks
    in *crop* coordinates (``[K, 2]`` float32) or ``None``; ``boxes[i]`` is the face box
    ``(x0, y0, x1, y1)`` in frame coordinates or ``None``.

    ``n_faces[i]`` is how many faces the detector found in frame ``i`` (0 for a frame whose crop
    was interpolated from its neighbours, e.g. by the mouth cropper). ``others[i]`` holds the
    crops of the non-primary faces when the multi-face policy is ``all`` (else empty lists).
    ``frame_indices[i]`` is the index of frame ``i`` in the source video when known (the crop
    cache fills it).
    """

    crops: list[np.ndarray | None]
    landmarks: list[np.ndarray | None] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float] | None] = field(default_factory=list)
    n_faces: list[int] = field(default_factory=list)
    others: list[list[np.ndarray]] = field(default_factory=list)
    frame_indices: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.crops)

    @property
    def n_missing(self) -> int:
        return sum(c is None for c in self.crops)
