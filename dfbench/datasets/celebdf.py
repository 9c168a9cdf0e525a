"""Celeb-DF v2 (Li et al., "Celeb-DF: A Large-scale Challenging Dataset for DeepFake Forensics",
CVPR 2020, arXiv:1909.12962): index of the official test list and of the rest (train).

Layout::

    Celeb-DF-v2/Celeb-real/id0_0000.mp4 …            real (590)
    Celeb-DF-v2/Celeb-synthesis/id0_id1_0000.mp4 …   fake (5639)
    Celeb-DF-v2/YouTube-real/00000.mp4 …             real (300)
    Celeb-DF-v2/List_of_testing_videos.txt           518 lines "1 YouTube-real/00170.mp4"

The list has **no header** and its number is **1 = real** (the inverse of dfbench). It is parsed
line by line (``pandas.read_csv`` with its default header silently drops the first test video),
the label is taken from the folder and the number is only a cross-check. Train is every video
of the three folders that is not in the test list.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DatasetNotFoundError
from ..specs import VideoItem
from .common import DatasetFormatError, file_meta, find_dir, list_files, make_key

log = logging.getLogger(__name__)

DATASET = "celebdf_v2"
LIST_FILE = "List_of_testing_videos.txt"
FOLDERS: dict[str, int] = {"YouTube-real": 0, "Celeb-real": 0, "Celeb-synthesis": 1}
ROOT_NAMES = ("Celeb-DF-v2", "Celeb-DF-V2", "celeb-df-v2")


def read_test_list(path: Path) -> list[tuple[str, str, int]]:
    """``(folder, file name, list number)`` per line of the official list, in file order.

    Blank lines are tolerated (the official file has no final newline, copies often gain one).
    """
    out = []
    seen = set()
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ("0", "1") or "/" not in parts[1]:
            raise DatasetFormatError(
                f"{str(path)!r} line {lineno}: expected '<0|1> <folder>/<file>.mp4', got {line!r}"
            )
        folder, _, name = parts[1].partition("/")
        if folder not in FOLDERS or "/" in name:
            raise DatasetFormatError(
                f"{str(path)!r} line {lineno}: unknown folder {folder!r}; Celeb-DF v2 has "
                f"{', '.join(FOLDERS)}"
            )
        if (folder, name) in seen:
            log.warning("%s line %d repeats %s; counted once", path, lineno, parts[1])
            continue
        seen.add((folder, name))
        out.append((folder, name, int(parts[0])))
    return out


def _root(root: Path) -> Path:
    base = find_dir(root, LIST_FILE, ROOT_NAMES)
    if (base / LIST_FILE).is_file():
        return base
    for name in ROOT_NAMES:  # a root without the list still works for the train split
        if (root / name / "Celeb-synthesis").is_dir():
            return root / name
    return root


def index(root: Path | None, split: str, options: Mapping[str, Any]) -> list[VideoItem]:
    """Celeb-DF v2 ``test`` (the official list) or ``train`` (every other video)."""
    if root is None:
        raise DatasetNotFoundError("Celeb-DF v2 needs --data-root pointing at Celeb-DF-v2/")
    root = _root(root)
    list_path = root / LIST_FILE
    if not list_path.is_file():
        raise DatasetNotFoundError(
            f"{LIST_FILE} not found in {str(root)!r}: point --data-root (or DFBENCH_CELEBDF_V2_ROOT) "
            "at the extracted Celeb-DF-v2 folder that holds it next to Celeb-real/, "
            "Celeb-synthesis/ and YouTube-real/."
        )
    listed = read_test_list(list_path)
    listings = {folder: list_files(root / folder) for folder in FOLDERS}
    items: list[VideoItem] = []

    def add(folder: str, name: str, extra: dict[str, Any]) -> None:
        label = FOLDERS[folder]
        stem = name[: -len(".mp4")] if name.endswith(".mp4") else name
        meta = {**file_meta(name, listings[folder]), **extra}
        items.append(
            VideoItem(
                key=make_key(DATASET, label, folder, stem),
                label=label,
                method=folder,
                path=os.path.join(root, folder, name),
                meta=meta,
            )
        )

    if split == "test":
        conflicts = 0
        for folder, name, number in listed:
            extra: dict[str, Any] = {}
            if number != 1 - FOLDERS[folder]:  # the list says 1 = real
                conflicts += 1
                extra["list_label_conflict"] = number
            add(folder, name, extra)
        if conflicts:
            log.warning(
                "%s: %d lines whose number disagrees with the folder; the folder label is used",
                list_path,
                conflicts,
            )
        return items

    test_set = {(folder, name) for folder, name, _ in listed}
    for folder, listing in listings.items():
        for name in sorted(listing):
            if (folder, name) not in test_set:
                add(folder, name, {})
    return items
