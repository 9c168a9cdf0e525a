"""FFIW-10K (Zhou et al., "Face Forensics in the Wild", CVPR 2021): multi-person videos where only
some of the faces are manipulated; labels are per video.

Layout (tfzhou/FFIW ``README.md``; SBI's ``data/datasets.md`` adds a ``videos/`` level)::

    FFIW10K-v1-release/source/{train,val}/[videos/]*.mp4        real (the pristine videos)
    FFIW10K-v1-release/target/{train,val}/[videos/]*.mp4        fake (some faces swapped)
    FFIW10K-v1-release/target_mask/{train,val}/…                masks of the swapped faces

Membership is by folder (there is no list file). dfbench's ``test`` split is the released ``val``
folders: SBI evaluates FFIW there (``init_ffiw`` reads ``source/val`` and ``target/val``, 250 + 250
videos, the labels hard-coded as ``[0]*250 + [1]*250``), and the FFIW test set was not released.

**Which face is scored.** Not every face of a fake video is fake, so scoring only the largest face
can score a pristine face of a fake video. The rule dfbench records (``meta["face_rule"]``) is
SBI's: every detected face of a frame is scored, the frame takes the *maximum* fake probability
over its faces, the video the mean over frames. Croppers that implement it take
``multi_face="all"``; the spec carries that default so a run reports it in its protocol.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DatasetNotFoundError
from ..specs import VideoItem
from .common import list_files, make_key

DATASET = "ffiw"
ROOT_NAMES = ("FFIW10K-v1-release", "FFIW10K", "FFIW")
FOLDERS = {"source": 0, "target": 1}
SPLIT_DIRS = {"train": "train", "test": "val"}
FACE_RULE = "max_over_faces_then_mean_over_frames"


def _video_dir(base: Path) -> Path:
    """``base/videos`` when it exists (SBI's re-arranged layout), else ``base`` (as distributed)."""
    return base / "videos" if (base / "videos").is_dir() else base


def index(root: Path | None, split: str, options: Mapping[str, Any]) -> list[VideoItem]:
    """FFIW ``test`` (the released ``val`` folders, as SBI evaluates) or ``train``."""
    if root is None:
        raise DatasetNotFoundError("FFIW-10K needs --data-root pointing at FFIW10K-v1-release/")
    # The release folder itself, its parent, or SBI's data/FFIW/FFIW10K-v1-release.
    candidates = [root, *(root / n for n in ROOT_NAMES), *(root / "FFIW" / n for n in ROOT_NAMES)]
    root = next((c for c in candidates if (c / "source").is_dir() and (c / "target").is_dir()), root)
    if not (root / "source").is_dir() or not (root / "target").is_dir():
        raise DatasetNotFoundError(
            f"no FFIW-10K source/ and target/ folders under {str(root)!r}: point --data-root (or "
            "DFBENCH_FFIW_ROOT) at the extracted FFIW10K-v1-release folder."
        )
    sub = SPLIT_DIRS[split]
    items: list[VideoItem] = []
    for folder, label in FOLDERS.items():
        directory = _video_dir(root / folder / sub)
        mask_dir = _video_dir(root / "target_mask" / sub)
        masks = list_files(mask_dir) if label else {}
        for name, size in sorted(list_files(directory).items()):
            stem = name[: -len(".mp4")]
            meta: dict[str, Any] = {"face_rule": FACE_RULE}
            if size == 0:
                meta["broken"] = "empty file (0 bytes)"
            if name in masks:
                meta["mask"] = os.path.join(mask_dir, name)
            items.append(
                VideoItem(
                    key=make_key(DATASET, label, folder, stem),
                    label=label,
                    method=folder,
                    path=os.path.join(directory, name),
                    meta=meta,
                )
            )
    return items
