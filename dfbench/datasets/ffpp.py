"""FaceForensics++ (Rössler et al., ICCV 2019, arXiv:1901.08971): index of the official splits.

Layout (as written by the official download script)::

    <root>/original_sequences/youtube/{raw,c23,c40}/videos/000.mp4 … 999.mp4
    <root>/manipulated_sequences/<Method>/{raw,c23,c40}/videos/000_003.mp4 …
    <root>/splits/{train,val,test}.json          (or --splits DIR)

The split files are lists of ``[a, b]`` id pairs; a pair in split S puts the reals ``a`` and ``b``
and, in every method folder, the fakes ``a_b`` and ``b_a`` into S. Membership is enumerated from
the pairs and only then matched against the files, so masks (``<Method>/masks/videos``), DFD
folders in the same tree and temp files of interrupted downloads are never picked up, and a
listed file that is absent is reported rather than skipped silently.
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
from .common import (
    DatasetFormatError,
    file_meta,
    get_option,
    list_files,
    make_key,
    selected_methods,
)

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")
DEFAULT_METHODS: tuple[str, ...] = METHODS[:4]
"""The four methods of the FF++ paper; FaceShifter was added later and is opt-in (--methods)."""
COMPRESSIONS: tuple[str, ...] = ("raw", "c23", "c40")
REAL_METHOD = "youtube"


def normalise_compression(value: str) -> str:
    """``c0`` is what the papers call the lossless folder, which the download script names ``raw``."""
    value = str(value).lower()
    value = "raw" if value in ("c0", "raw") else value
    if value not in COMPRESSIONS:
        raise DatasetFormatError(
            f"unknown FF++ compression {value!r}; choose one of raw (c0), c23, c40"
        )
    return value


def read_split_pairs(
    root: Path | None, split: str, options: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """The ``[a, b]`` pairs of ``<splits_dir or root/splits>/<split>.json``, validated."""
    candidates = []
    if get_option(options, "splits_dir"):
        candidates.append(Path(get_option(options, "splits_dir")).expanduser())
    if root is not None:
        candidates.append(root / "splits")
    for directory in candidates:
        path = directory / f"{split}.json"
        if path.is_file():
            break
    else:
        looked = " and ".join(repr(str(d / f"{split}.json")) for d in candidates) or "nowhere"
        raise DatasetNotFoundError(
            f"FF++ split file {split}.json not found (looked in {looked}). The official split files "
            "train.json/val.json/test.json live in the FaceForensics repository (dataset/splits/): "
            "copy them to <data root>/splits/ or pass --splits DIR."
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DatasetFormatError(f"cannot read FF++ split file {str(path)!r}: {e}") from e
    pairs = []
    for i, pair in enumerate(data if isinstance(data, list) else [None]):
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
        ):
            raise DatasetFormatError(
                f'{str(path)!r} entry {i}: expected a pair of id strings like ["953", "974"], got {pair!r}'
            )
        pairs.append((pair[0], pair[1]))
    return pairs


def split_members(pairs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Real ids and fake names (``a_b`` and ``b_a``) of a split, in file order, without repeats."""
    reals: dict[str, None] = {}
    fakes: dict[str, None] = {}
    for a, b in pairs:
        reals.setdefault(a)
        reals.setdefault(b)
        fakes.setdefault(f"{a}_{b}")
        fakes.setdefault(f"{b}_{a}")
    return list(reals), list(fakes)


def index(root: Path | None, split: str, options: Mapping[str, Any]) -> list[VideoItem]:
    """FF++ items of ``split``: reals of the pairs plus both fakes of each pair per selected method.

    Options: ``compression`` (raw/c0, c23, c40; default c23), ``methods`` (default the four
    paper methods, ``all`` adds FaceShifter), ``splits_dir``.
    """
    if root is None:
        raise DatasetNotFoundError(
            "FF++ needs --data-root pointing at the folder holding original_sequences/"
        )
    comp = normalise_compression(get_option(options, "compression", "c23"))
    methods = selected_methods(METHODS, DEFAULT_METHODS, get_option(options, "methods"))
    dataset = f"ffpp_{comp}"
    reals, fakes = split_members(read_split_pairs(root, split, options))
    if not (root / "original_sequences").is_dir() and not (root / "manipulated_sequences").is_dir():
        log.warning(
            "%s has neither original_sequences/ nor manipulated_sequences/: is it the FF++ root?",
            root,
        )

    items: list[VideoItem] = []
    real_dir = root / "original_sequences" / REAL_METHOD / comp / "videos"
    listing = list_files(real_dir)
    for vid in reals:
        name = f"{vid}.mp4"
        items.append(
            VideoItem(
                key=make_key(dataset, 0, REAL_METHOD, vid),
                label=0,
                method=REAL_METHOD,
                path=os.path.join(real_dir, name),
                meta=file_meta(name, listing),
            )
        )
    for method in methods:
        fake_dir = root / "manipulated_sequences" / method / comp / "videos"
        listing = list_files(fake_dir)
        for vid in fakes:
            name = f"{vid}.mp4"
            meta = file_meta(name, listing)
            # The target video (first id) gives the background and the person whose face changes.
            meta["target"], meta["source"] = vid.split("_", 1)
            items.append(
                VideoItem(
                    key=make_key(dataset, 1, method, vid),
                    label=1,
                    method=method,
                    path=os.path.join(fake_dir, name),
                    meta=meta,
                )
            )
    return items


def _with_compression(compression: str):
    def index_fixed(root: Path | None, split: str, options: Mapping[str, Any]) -> list[VideoItem]:
        return index(root, split, {**options, "compression": compression})

    index_fixed.__doc__ = f"FF++ index at compression {compression!r} (the dataset name fixes it)."
    index_fixed.__name__ = f"index_{compression}"
    return index_fixed


# One callable per registered dataset so that ffpp_c40 can never silently read c23 videos, even
# when a caller passes the spec's index a bare options dict.
index_raw = _with_compression("raw")
index_c23 = _with_compression("c23")
index_c40 = _with_compression("c40")
