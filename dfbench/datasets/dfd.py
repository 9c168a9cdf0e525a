"""DeepFakeDetection (DFD; Dufour & Gully, Google AI Blog 2019), hosted with FaceForensics++.

Layout (same root as FF++)::

    <root>/original_sequences/actors/{raw,c23,c40}/videos/01__exit_phone_room.mp4 …
    <root>/manipulated_sequences/DeepFakeDetection/{raw,c23,c40}/videos/01_02__exit_phone_room__YVGY8LOK.mp4 …
    <root>/manipulated_sequences/DeepFakeDetection/masks/videos/<fake name>.mp4

There is no label file and no official split: the whole set (363 real, 3068 fake) is a
cross-dataset test set, labelled by folder. Masks are never indexed as videos; their paths are
attached to the fakes (``meta["mask"]``) because several people appear in some clips and only
one face is swapped, so a mask-guided face choice is the reliable one.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DatasetNotFoundError
from ..specs import VideoItem
from .common import get_option, list_files, make_key
from .ffpp import normalise_compression

log = logging.getLogger(__name__)

REAL_METHOD = "actors"
FAKE_METHOD = "DeepFakeDetection"
_REAL_NAME = re.compile(r"^\d+__[A-Za-z_]+$")
_FAKE_NAME = re.compile(r"^(\d+)_(\d+)__([A-Za-z_]+)__([A-Za-z0-9]+)$")


def index(root: Path | None, split: str, options: Mapping[str, Any]) -> list[VideoItem]:
    """All DFD videos at ``options["compression"]`` (default c23), real = actors, fake = DFD."""
    if root is None:
        raise DatasetNotFoundError("DFD needs --data-root pointing at the FF++ download root")
    comp = normalise_compression(get_option(options, "compression", "c23"))
    dataset = f"dfd_{comp}"
    real_dir = root / "original_sequences" / REAL_METHOD / comp / "videos"
    fake_dir = root / "manipulated_sequences" / FAKE_METHOD / comp / "videos"
    mask_dir = root / "manipulated_sequences" / FAKE_METHOD / "masks" / "videos"
    if not real_dir.is_dir() and not fake_dir.is_dir():
        raise DatasetNotFoundError(
            f"no DFD videos under {str(root)!r}: expected {real_dir.relative_to(root)}/ and "
            f"{fake_dir.relative_to(root)}/ (download with the FF++ script, -d DeepFakeDetection "
            f"and -d DeepFakeDetection_original, -c {comp}); fix --data-root or DFBENCH_DFD_ROOT."
        )
    masks = list_files(mask_dir)
    items: list[VideoItem] = []
    for label, method, directory, pattern in (
        (0, REAL_METHOD, real_dir, _REAL_NAME),
        (1, FAKE_METHOD, fake_dir, _FAKE_NAME),
    ):
        for name, size in sorted(list_files(directory).items()):
            stem = name[: -len(".mp4")]
            meta: dict[str, Any] = {}
            match = pattern.match(stem)
            if not match:
                # Not an official name: keep it (the user may have renamed files) but say so.
                log.warning("DFD: unexpected file name %s in %s", name, directory)
            if size == 0:
                meta["broken"] = "empty file (0 bytes)"
            if label == 1:
                if match:
                    target, _source, scene, _exp = match.groups()
                    # A fake derives from the real video of its target actor in the same scene.
                    meta["original"] = f"{target}__{scene}"
                if name in masks:
                    meta["mask"] = os.path.join(mask_dir, name)
            items.append(
                VideoItem(
                    key=make_key(dataset, label, method, stem),
                    label=label,
                    method=method,
                    path=os.path.join(directory, name),
                    meta=meta,
                )
            )
    return items
