"""DFDC (Dolhansky et al., "The DeepFake Detection Challenge (DFDC) Dataset", arXiv:2006.07397).

Layout of the full release (the Kaggle download has only the train parts)::

    DFDC/train/dfdc_train_part_0/ … dfdc_train_part_49/    metadata.json + videos
    DFDC/validation/labels.csv  + 4000.mp4 … 7999.mp4
    DFDC/test/labels.csv, test/metadata.json + 5000 videos

Three label conventions are translated here: ``labels.csv`` (``filename,label``, 1 = fake),
``metadata.json`` of the train parts (``"REAL"``/``"FAKE"``) and ``test/metadata.json``
(``is_fake``, used only as a cross-check and for the augmentation tags). Part folders are found by
name up to two levels deep (unzipping ``dfdc_train_part_00.zip`` nests one level); videos of
validation/test are found by name anywhere under the folder holding ``labels.csv``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DatasetNotFoundError
from ..specs import VideoItem
from .common import DatasetFormatError, file_meta, list_files, make_key
from .textfiles import dedupe, read_csv_rows, read_text, require_fields

log = logging.getLogger(__name__)

DATASET = "dfdc"
_PART = re.compile(r"^dfdc_train_part_(\d+)$")
_SUBSETS = {"test": "test", "val": "validation", "validation": "validation"}
_TRAIN_LABELS = {"REAL": 0, "FAKE": 1}


def _find_videos(folder: Path) -> dict[str, tuple[Path, int]]:
    """``{file name: (path, size)}`` of every ``.mp4`` below ``folder`` (shallowest copy wins)."""
    found: dict[str, tuple[Path, int]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        depth = len(Path(dirpath).relative_to(folder).parts)
        for name in filenames:
            if not name.lower().endswith(".mp4") or name.startswith("."):
                continue
            path = Path(dirpath) / name
            try:
                size = path.stat().st_size
            except OSError:
                continue
            prev = found.get(name)
            if prev is None or depth < len(prev[0].relative_to(folder).parts) - 1:
                found[name] = (path, size)
    return found


def read_labels_csv(path: Path) -> list[tuple[str, int]]:
    """``(file name, label)`` rows of a DFDC ``labels.csv`` (header ``filename,label``, 1 = fake).

    A BOM is accepted, a binary file or a row without its comma is refused naming the file and
    line, and a repeated row is counted once with a warning (a repeat with the *other* label is
    refused: which one is right cannot be guessed).
    """
    rows = read_csv_rows(path)
    header = [h.strip().lower() for h in (rows[0][1] if rows else [])]
    if "filename" not in header or "label" not in header:
        raise DatasetFormatError(
            f"{str(path)!r}: expected the header 'filename,label', got {','.join(header)!r}. "
            "Kaggle's sample_submission.csv is a template, not labels: the test labels come "
            "with the full DFDC release (dfdc.ai)."
        )
    i_name, i_label = header.index("filename"), header.index("label")
    entries = []
    labels: dict[str, tuple[int, int]] = {}
    for lineno, row in rows[1:]:
        require_fields(path, lineno, row, max(i_name, i_label) + 1, "'<name>.mp4,<0|1>'")
        value = row[i_label].strip()
        if value not in ("0", "1"):
            raise DatasetFormatError(
                f"{str(path)!r} line {lineno}: label must be 0 (real) or 1 (fake), got {value!r}"
                + (" (probabilities: is this sample_submission.csv?)" if "." in value else "")
            )
        name, label = row[i_name].strip(), int(value)
        if name in labels and labels[name][1] != label:
            raise DatasetFormatError(
                f"{str(path)!r} line {lineno}: {name} is labelled {label} here and "
                f"{labels[name][1]} on line {labels[name][0]}; keep the right one."
            )
        labels.setdefault(name, (lineno, label))
        entries.append((lineno, name, (name, label)))
    return dedupe(path, entries, "row")


def _index_labelled(root: Path, subset: str) -> list[VideoItem]:
    folder = root / subset
    labels_path = folder / "labels.csv"
    if not labels_path.is_file():
        raise DatasetNotFoundError(
            f"DFDC {subset} labels not found: expected {str(labels_path)!r}. Point --data-root (or "
            "DFBENCH_DFDC_ROOT) at the DFDC folder holding train/, validation/ and test/. The Kaggle "
            "test_videos/ have no labels; the labelled sets come with the full release (dfdc.ai)."
        )
    rows = read_labels_csv(labels_path)
    videos = _find_videos(folder)
    extra: dict[str, dict[str, Any]] = {}
    meta_path = folder / "metadata.json"
    if meta_path.is_file():
        try:
            extra = json.loads(read_text(meta_path))
        except ValueError as e:
            raise DatasetFormatError(f"cannot parse {str(meta_path)!r}: {e}") from e
    items = []
    conflicts = 0
    for name, label in rows:
        meta: dict[str, Any] = file_meta(name, {n: s for n, (_p, s) in videos.items()})
        path = videos[name][0] if name in videos else folder / name
        info = extra.get(name) or {}
        if "is_fake" in info and int(info["is_fake"]) != label:
            conflicts += 1
            meta["metadata_is_fake"] = int(info["is_fake"])
        if info.get("augmentations"):
            # Which perturbation families were applied: lets results be broken down by them.
            meta["augmentations"] = sorted(
                f"{kind}:{name}"
                for kind, ops in info["augmentations"].items()
                for name in (ops or {})
            )
        stem = name[: -len(".mp4")] if name.endswith(".mp4") else name
        items.append(
            VideoItem(
                key=make_key(DATASET, label, subset, stem),
                label=label,
                method=subset,
                path=str(path),
                meta=meta,
            )
        )
    if conflicts:
        log.warning(
            "DFDC %s: %d videos where labels.csv and metadata.json disagree; labels.csv wins",
            subset,
            conflicts,
        )
    return items


def find_train_parts(root: Path) -> dict[int, Path]:
    """``{part number: folder}`` for ``dfdc_train_part_N`` folders up to two levels below root/train or root."""
    parts: dict[int, Path] = {}
    bases = [b for b in (root / "train", root) if b.is_dir()]
    for base in bases:
        level = [base]
        for _depth in range(2):
            nxt = []
            for d in level:
                try:
                    children = sorted(p for p in d.iterdir() if p.is_dir())
                except OSError:
                    continue
                for child in children:
                    m = _PART.match(child.name)
                    # A folder holding metadata.json is the part itself; a zero-padded outer folder
                    # from unzipping (dfdc_train_part_00/dfdc_train_part_0/) is looked into.
                    if m and (child / "metadata.json").is_file():
                        parts.setdefault(int(m.group(1)), child)
                    else:
                        nxt.append(child)
            level = nxt
    return parts


def _index_train(root: Path) -> list[VideoItem]:
    parts = find_train_parts(root)
    if not parts:
        raise DatasetNotFoundError(
            f"no DFDC train parts (dfdc_train_part_N/metadata.json) under {str(root)!r} or its train/ "
            "folder: extract the Kaggle parts there and point --data-root (or DFBENCH_DFDC_ROOT) at it."
        )
    items = []
    for number, folder in sorted(parts.items()):
        meta_path = folder / "metadata.json"
        try:
            entries = json.loads(read_text(meta_path))
        except ValueError as e:
            raise DatasetFormatError(f"cannot parse {str(meta_path)!r}: {e}") from e
        listing = list_files(folder)
        subset = folder.name
        for name, info in sorted(entries.items()):
            raw = str((info or {}).get("label", "")).upper()
            if raw not in _TRAIN_LABELS:
                raise DatasetFormatError(
                    f"{str(meta_path)!r}: {name} has label {raw!r}, expected REAL or FAKE"
                )
            label = _TRAIN_LABELS[raw]
            meta = file_meta(name, listing)
            meta["part"] = number
            if info.get("original"):
                # Keep fakes with their original when cutting folds (same person and scene).
                meta["original"] = info["original"]
            stem = name[: -len(".mp4")] if name.endswith(".mp4") else name
            items.append(
                VideoItem(
                    key=make_key(DATASET, label, subset, stem),
                    label=label,
                    method=subset,
                    path=os.path.join(folder, name),
                    meta=meta,
                )
            )
    return items


def index(root: Path | None, split: str, options: Mapping[str, Any]) -> list[VideoItem]:
    """DFDC ``train`` (all parts present), ``val`` (validation/labels.csv) or ``test`` (test/labels.csv)."""
    if root is None:
        raise DatasetNotFoundError("DFDC needs --data-root pointing at the DFDC folder")
    if split == "train":
        return _index_train(root)
    if split not in _SUBSETS:
        raise DatasetFormatError(f"DFDC has the splits train, val and test, not {split!r}")
    return _index_labelled(root, _SUBSETS[split])
