"""WildDeepfake (Zi et al., "WildDeepfake: A Challenging Real-World Dataset for Deepfake
Detection", ACM MM 2020, arXiv:2101.01456): index of the released face sequences.

Layout as downloaded, archives extracted in place::

    deepfake_in_the_wild/{real,fake}_{train,test}/0.tar.gz 1.tar.gz …
    deepfake_in_the_wild/fake_test/1/fake/131/830.png 844.png …   (from fake_test/1.tar.gz)

The unit is a face *sequence* (innermost folder), labelled by the top folder (``real_*`` = 0,
``fake_*`` = 1) and keyed on ``<folder>/<archive index>/<sequence id>`` because archive indices
repeat across the four folders. Frames are already 224 px face crops: items are ``kind="frames"``
with ``precropped=True`` (no face detection), and ``meta["frames"]`` lists the frame files in
numeric order (``998, 999, 1000``; a string sort would break the temporal order).

Archives that have not been extracted cannot be read frame by frame cheaply: indexing stops with
:class:`~dfbench.errors.DatasetCountMismatch` (``allow_partial`` skips them with a warning) unless
``options["extract"]`` is true, which extracts them in place with tarfile's safe ``data`` filter. An archive next to its extracted folder is counted once.
"""

from __future__ import annotations

import logging
import os
import re
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DatasetCountMismatch, DatasetNotFoundError
from ..specs import VideoItem
from .common import find_dir, get_option, make_key

log = logging.getLogger(__name__)

DATASET = "dfw"
ROOT_NAMES = ("deepfake_in_the_wild", "WildDeepfake", "wild-deepfake")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")
_ARCHIVE = re.compile(r"^(\d+)\.tar\.gz$")


def _frame_number(name: str) -> tuple[int, str]:
    stem = name.rsplit(".", 1)[0]
    return (int(stem), name) if stem.isdigit() else (1 << 62, name)


def sequence_frames(folder: Path) -> list[str]:
    """Frame file names of a sequence folder, in numeric (temporal) order."""
    try:
        names = [
            e.name
            for e in os.scandir(folder)
            if e.is_file()
            and e.name.lower().endswith(FRAME_SUFFIXES)
            and not e.name.startswith(".")
        ]
    except OSError:
        return []
    return sorted(names, key=_frame_number)


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(
            (p for p in folder.iterdir() if p.is_dir()), key=lambda p: _frame_number(p.name)
        )
    except OSError:
        return []


def _extract(archive: Path, dest: Path) -> None:
    log.info("extracting %s", archive)
    with tarfile.open(archive, "r:gz") as tar:
        # The "data" filter refuses absolute paths, links out of dest and device files.
        tar.extractall(dest, filter="data")


def index(root: Path | None, split: str, options: Mapping[str, Any]) -> list[VideoItem]:
    """Face sequences of ``real_<split>`` (label 0) and ``fake_<split>`` (label 1)."""
    if root is None:
        raise DatasetNotFoundError(
            "WildDeepfake needs --data-root pointing at deepfake_in_the_wild/"
        )
    root = find_dir(root, f"real_{split}", ROOT_NAMES)
    if not (root / f"real_{split}").is_dir() and not (root / f"fake_{split}").is_dir():
        raise DatasetNotFoundError(
            f"no real_{split}/ or fake_{split}/ folder under {str(root)!r}: point --data-root "
            "(or DFBENCH_DFW_ROOT) at the deepfake_in_the_wild folder."
        )
    extract = bool(get_option(options, "extract", False))
    not_extracted: list[Path] = []
    items: list[VideoItem] = []
    for cls, label in (("real", 0), ("fake", 1)):
        folder_name = f"{cls}_{split}"
        folder = root / folder_name
        if not folder.is_dir():
            continue
        archives = {}
        for entry in sorted(os.listdir(folder)):
            m = _ARCHIVE.match(entry)
            if m:
                archives[m.group(1)] = folder / entry
        for idx, archive in archives.items():
            if (folder / idx).is_dir():
                continue
            if extract:
                _extract(archive, folder)
            else:
                not_extracted.append(archive)
        for archive_dir in _subdirs(folder):
            idx = archive_dir.name
            if not idx.isdigit():
                continue
            for inner in _subdirs(archive_dir):
                if inner.name not in ("real", "fake"):
                    continue
                if inner.name != cls:
                    log.warning(
                        "WildDeepfake: %s sits in %s/; labelled by the top folder (%s)",
                        inner,
                        folder_name,
                        cls,
                    )
                for seq in _subdirs(inner):
                    frames = sequence_frames(seq)
                    meta: dict[str, Any] = {"frames": frames, "n_frames": len(frames)}
                    if idx in archives:
                        meta["archive"] = str(archives[idx])
                    if not frames:
                        meta["broken"] = "no frame images in the sequence folder"
                    items.append(
                        VideoItem(
                            key=make_key(DATASET, label, folder_name, f"{idx}/{seq.name}"),
                            label=label,
                            method=folder_name,
                            path=str(seq),
                            kind="frames",
                            precropped=True,
                            meta=meta,
                        )
                    )
    if not_extracted:
        # No official per-split counts exist for DFW, so an unextracted archive is the only sign
        # that sequences are absent: say it as loudly as a count mismatch.
        shown = ", ".join(str(a.relative_to(root)) for a in not_extracted[:5])
        msg = (
            f"WildDeepfake {split}: {len(not_extracted)} archive(s) not extracted ({shown}); their "
            "sequences are not indexed. Extract them in place (tar -xzf N.tar.gz -C <folder>), "
            "pass the option extract=True, or --allow-partial to evaluate without them."
        )
        if not get_option(options, "allow_partial", False):
            raise DatasetCountMismatch(msg)
        log.warning("%s", msg)
    return items
