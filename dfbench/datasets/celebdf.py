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

Celeb-DF **v1** (``index_v1``, dataset ``celebdf_v1``, alias ``cdf1``) ships the same folders and a
list file of the same name and format with its own membership (v1 README); it is indexed by the
same code under its own dataset id, and a v2 tree given as v1 is refused.
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
from .textfiles import dedupe, read_lines

log = logging.getLogger(__name__)

DATASET = "celebdf_v2"
LIST_FILE = "List_of_testing_videos.txt"
FOLDERS: dict[str, int] = {"YouTube-real": 0, "Celeb-real": 0, "Celeb-synthesis": 1}
ROOT_NAMES = ("Celeb-DF-v2", "Celeb-DF-V2", "celeb-df-v2")
DATASET_V1 = "celebdf_v1"
# The v1 README draws the tree under "Celeb-DF"; DeepfakeBench names the folder Celeb-DF-v1.
ROOT_NAMES_V1 = ("Celeb-DF-v1", "Celeb-DF", "Celeb-DF-V1", "celeb-df-v1")
V1_SYNTHESIS = 795  # Celeb-DF v1 README: "795 DeepFake videos"


def read_test_list(path: Path) -> list[tuple[str, str, int]]:
    """``(folder, file name, list number)`` per line of the official list, in file order.

    Blank lines, a missing final newline and a UTF-8 BOM are tolerated; a repeated line is
    counted once with a warning; a binary file is refused naming the file (:mod:`.textfiles`).
    """
    entries = []
    for lineno, line in read_lines(path):
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ("0", "1") or "/" not in parts[1]:
            raise DatasetFormatError(
                f"{str(path)!r} line {lineno}: expected '<0|1> <folder>/<file>.mp4', got {line!r}"
            )
        folder, _, name = parts[1].partition("/")
        if folder not in FOLDERS or "/" in name:
            raise DatasetFormatError(
                f"{str(path)!r} line {lineno}: unknown folder {folder!r}; Celeb-DF has "
                f"{', '.join(FOLDERS)}"
            )
        entries.append((lineno, (folder, name), (folder, name, int(parts[0]))))
    return dedupe(path, entries, "line")


def _root(root: Path, root_names: tuple[str, ...] = ROOT_NAMES) -> Path:
    base = find_dir(root, LIST_FILE, root_names)
    if (base / LIST_FILE).is_file():
        return base
    for name in root_names:  # a root without the list still works for the train split
        if (root / name / "Celeb-synthesis").is_dir():
            return root / name
    return root


def index(root: Path | None, split: str, options: Mapping[str, Any]) -> list[VideoItem]:
    """Celeb-DF v2 ``test`` (the official list) or ``train`` (every other video)."""
    return _index(DATASET, "v2", ROOT_NAMES, root, split)


def index_v1(root: Path | None, split: str, options: Mapping[str, Any]) -> list[VideoItem]:
    """Celeb-DF v1 ``test`` (its own List_of_testing_videos.txt) or ``train`` (the rest).

    v1 has the same folders and list format as v2 but different videos; a v2 tree given by
    mistake is refused (v1 has 795 synthesised videos, v2 5,639).
    """
    items = _index(DATASET_V1, "v1", ROOT_NAMES_V1, root, split)
    base = Path(items[0].path).parent.parent if items else None
    if base is not None and len(list_files(base / "Celeb-synthesis")) > V1_SYNTHESIS:
        raise DatasetFormatError(
            f"{str(base)!r} holds more than {V1_SYNTHESIS} Celeb-synthesis videos, so it is "
            "Celeb-DF v2, not v1: use the dataset celebdf_v2 (cdf) for it, or point --data-root "
            "(DFBENCH_CELEBDF_V1_ROOT) at the extracted Celeb-DF v1 folder."
        )
    return items


def _index(
    dataset: str, version: str, root_names: tuple[str, ...], root: Path | None, split: str
) -> list[VideoItem]:
    env = f"DFBENCH_{dataset.upper()}_ROOT"
    if root is None:
        raise DatasetNotFoundError(f"Celeb-DF {version} needs --data-root pointing at {root_names[0]}/")
    root = _root(root, root_names)
    list_path = root / LIST_FILE
    if not list_path.is_file():
        raise DatasetNotFoundError(
            f"{LIST_FILE} not found in {str(root)!r}: point --data-root (or {env}) "
            f"at the extracted {root_names[0]} folder that holds it next to Celeb-real/, "
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
                key=make_key(dataset, label, folder, stem),
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
