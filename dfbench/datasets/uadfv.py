"""UADFV (Yang, Li & Lyu, "Exposing Deep Fakes Using Inconsistent Head Poses", ICASSP 2019):
49 real YouTube videos and the 49 DeepFake videos made from them.

Layout as distributed (and as DeepfakeBench's ``rearrange.py`` reads it)::

    UADFV/real/*.mp4      49 real
    UADFV/fake/*.mp4      49 fake

Labels come from the folder; there is no split, the whole set is a cross-dataset test set
(DeepfakeBench copies every video into its train, val and test lists). Counts: 49 + 49
(Celeb-DF paper, Table 1; DeepfakeBench README table).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DatasetNotFoundError
from ..specs import VideoItem
from .common import find_dir, list_files, make_key

DATASET = "uadfv"
ROOT_NAMES = ("UADFV", "uadfv")
FOLDERS = {"real": 0, "fake": 1}


def index(root: Path | None, split: str, options: Mapping[str, Any]) -> list[VideoItem]:
    """Every UADFV video (``test``), real/ = 0 and fake/ = 1."""
    if root is None:
        raise DatasetNotFoundError("UADFV needs --data-root pointing at UADFV/")
    root = find_dir(root, "fake", ROOT_NAMES)
    if not (root / "real").is_dir() and not (root / "fake").is_dir():
        raise DatasetNotFoundError(
            f"no UADFV real/ and fake/ folders under {str(root)!r}: point --data-root (or "
            "DFBENCH_UADFV_ROOT) at the extracted UADFV folder."
        )
    items = []
    for folder, label in FOLDERS.items():
        for name, size in sorted(list_files(root / folder).items()):
            stem = name[: -len(".mp4")]
            items.append(
                VideoItem(
                    key=make_key(DATASET, label, folder, stem),
                    label=label,
                    method=folder,
                    path=os.path.join(root, folder, name),
                    meta={"broken": "empty file (0 bytes)"} if size == 0 else {},
                )
            )
    return items
