"""DFDC preview (DFDCP; Dolhansky et al., "The Deepfake Detection Challenge (DFDC) Preview Dataset",
arXiv:1910.08854): the set LAA-Net's and SBI's "DFDC-P"/"DFDCP" columns are measured on.

Layout as distributed (root folder ``fb_dfd_release_0.1_final``)::

    dataset.json
    original_videos/<target_id>/<target_id>_<ctx>_<clip>.mp4
    method_A/<target_id>/<target_id>_<ctx>/<swapped_id>_<target_id>_<ctx>_<clip>.mp4
    method_B/…

``dataset.json`` is keyed by these relative paths; each value carries ``label`` (``"real"`` /
``"fake"``) and ``set`` (``"train"`` / ``"test"``). Membership and labels come from that file only
(SBI's ``init_dfdcp`` and DeepfakeBench's ``rearrange.py`` filter it by ``set``); files on disk that
it does not list are ignored. SBI's re-arranged copy puts a ``videos/`` folder under each top folder
(``method_A/videos/<target>/…``); both layouts are accepted, the distributed one first.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DatasetNotFoundError
from ..specs import VideoItem
from .common import DatasetFormatError, find_dir, make_key
from .textfiles import read_text

log = logging.getLogger(__name__)

DATASET = "dfdcp"
LABEL_FILE = "dataset.json"
ROOT_NAMES = ("fb_dfd_release_0.1_final", "DFDCP", "dfdcp", "DFDC-P", "dfdc_preview")
LABELS = {"real": 0, "fake": 1}
REAL_FOLDER = "original_videos"


def read_dataset_json(path: Path) -> dict[str, dict[str, Any]]:
    """The ``{relative path: info}`` mapping of ``dataset.json``, refused clearly when malformed."""
    try:
        data = json.loads(read_text(path))
    except ValueError as e:
        raise DatasetFormatError(f"cannot parse {str(path)!r}: {e}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise DatasetFormatError(
            f"{str(path)!r}: expected an object mapping video paths to {{'label', 'set', …}}"
        )
    return data


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None


def _locate(root: Path, rel: str) -> tuple[Path, int | None]:
    """The file for a ``dataset.json`` key: the distributed layout, else SBI's ``<top>/videos/…``."""
    direct = root / rel
    size = _size(direct)
    if size is not None:
        return direct, size
    top, _, rest = rel.partition("/")
    alt = root / top / "videos" / rest
    size = _size(alt)
    return (alt, size) if size is not None else (direct, None)


def index(root: Path | None, split: str, options: Mapping[str, Any]) -> list[VideoItem]:
    """DFDCP ``train`` or ``test``: the ``dataset.json`` entries whose ``set`` is the split."""
    if root is None:
        raise DatasetNotFoundError("DFDCP needs --data-root pointing at fb_dfd_release_0.1_final/")
    root = find_dir(root, LABEL_FILE, ROOT_NAMES)
    label_path = root / LABEL_FILE
    if not label_path.is_file():
        raise DatasetNotFoundError(
            f"{LABEL_FILE} not found in {str(root)!r}: point --data-root (or DFBENCH_DFDCP_ROOT) at "
            "the extracted DFDC preview folder (fb_dfd_release_0.1_final) that holds dataset.json "
            "next to original_videos/, method_A/ and method_B/."
        )
    entries = read_dataset_json(label_path)
    items: list[VideoItem] = []
    conflicts = 0
    for rel in sorted(entries):
        info = entries[rel]
        if str(info.get("set", "")).lower() != split:
            continue
        raw = str(info.get("label", "")).lower()
        if raw not in LABELS:
            raise DatasetFormatError(
                f"{str(label_path)!r}: {rel} has label {info.get('label')!r}, expected 'real' or 'fake'"
            )
        label = LABELS[raw]
        rel = rel.replace("\\", "/").lstrip("/")
        method = rel.split("/", 1)[0]
        meta: dict[str, Any] = {}
        if (method == REAL_FOLDER) != (label == 0):
            # dataset.json is the official label; the folder only cross-checks it.
            conflicts += 1
            meta["folder_label_conflict"] = method
        for field in ("target_id", "swapped_id"):
            if info.get(field) is not None:
                meta[field] = info[field]
        path, size = _locate(root, rel)
        if size is None:
            meta["missing"] = True
        elif size == 0:
            meta["broken"] = "empty file (0 bytes)"
        video = rel.split("/", 1)[-1]
        video = video[: -len(".mp4")] if video.lower().endswith(".mp4") else video
        items.append(
            VideoItem(
                key=make_key(DATASET, label, method, video),
                label=label,
                method=method,
                path=os.fspath(path),
                meta=meta,
            )
        )
    if conflicts:
        log.warning(
            "%s: %d %s entries whose folder disagrees with their label; the label is used",
            label_path,
            conflicts,
            split,
        )
    return items
