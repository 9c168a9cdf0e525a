"""DeeperForensics-1.0 (Jiang et al., "DeeperForensics-1.0: A Large-Scale Dataset for Real-World
Face Forgery Detection", CVPR 2020, arXiv:2001.03024): the manipulated videos with the official
split lists, and the FF++ originals they were made from as the real class.

Layout as unzipped (EndlessSora/DeeperForensics-1.0 ``dataset/README.md``)::

    DeeperForensics-1.0/lists/splits/{train,val,test}.txt        one fake video name per line
    DeeperForensics-1.0/manipulated_videos/end_to_end/000_M101.mp4 …   <target_id>_<source actor>.mp4
    DeeperForensics-1.0/manipulated_videos/end_to_end_level_{1..5}/ …, end_to_end_mix_{2,3,4}_distortions/,
        end_to_end_random_level/, reenact_postprocess/           same 1,000 names each
    DeeperForensics-1.0/source_videos/…                          actors' recordings: NOT the real class

The dataset ships no real class: its README says the reals are the FF++ *target* videos (c23),
found from the first three digits of a fake's name. Papers (LipForensics, RealForensics) and SBI
score the ``end_to_end`` fakes against FF++ originals; DeepfakeBench instead takes
``source_videos`` as reals — a different protocol, not followed here. Options:

- ``variant`` (default ``end_to_end``): which ``manipulated_videos`` folder holds the fakes — the
  perturbed subsets are named options (``end_to_end_level_3``, ``end_to_end_mix_2_distortions``, …);
- ``ffpp_root``: the FF++ download root holding ``original_sequences/youtube/<comp>/videos`` (default:
  ``DFBENCH_FFPP_C23_ROOT``, else the DeeperForensics root itself, else its parent);
- ``real_compression`` (default ``c23``, as the README prescribes).

Reals are the targets of the listed fakes, each once. Counts are those of the official list
(no published per-split totals): a listed video missing on disk stops a run unless --allow-partial.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DatasetNotFoundError
from ..specs import VideoItem
from .common import DatasetFormatError, file_meta, find_dir, get_option, list_files, make_key
from .textfiles import dedupe, read_lines

log = logging.getLogger(__name__)

DATASET = "deeperforensics"
ROOT_NAMES = ("DeeperForensics-1.0", "DeeperForensics", "deeperforensics-1.0")
VARIANTS = (
    "end_to_end",
    *(f"end_to_end_level_{i}" for i in range(1, 6)),
    *(f"end_to_end_mix_{j}_distortions" for j in range(2, 5)),
    "end_to_end_random_level",
    "reenact_postprocess",
)
SPLIT_FILES = {"train": "train.txt", "val": "val.txt", "test": "test.txt"}


def read_split(path: Path) -> list[str]:
    """Fake video stems of a split file (``000_M101.mp4`` or ``000_M101`` per line), in file order."""
    entries = []
    for lineno, line in read_lines(path):
        name = Path(line.split()[0]).name
        stem = name[: -len(".mp4")] if name.lower().endswith(".mp4") else name
        target = stem.split("_", 1)[0]
        if not (len(target) == 3 and target.isdigit() and "_" in stem):
            raise DatasetFormatError(
                f"{str(path)!r} line {lineno}: expected '<3-digit target id>_<actor id>.mp4', got {line!r}"
            )
        entries.append((lineno, stem, stem))
    return dedupe(path, entries, "line")


def _ffpp_originals(root: Path, options: Mapping[str, Any]) -> Path:
    comp = str(get_option(options, "real_compression", "c23"))
    tail = Path("original_sequences") / "youtube" / comp / "videos"
    given = get_option(options, "ffpp_root") or os.environ.get("DFBENCH_FFPP_C23_ROOT")
    candidates = [Path(given).expanduser()] if given else [root, root.parent]
    for base in candidates:
        if (base / tail).is_dir():
            return base / tail
    where = str(candidates[0] / tail)
    raise DatasetNotFoundError(
        f"DeeperForensics-1.0 takes its real videos from FF++ (its README: the target videos, {comp}); "
        f"{where!r} does not exist. Pass --option ffpp_root=DIR (the FF++ download root) or set "
        "DFBENCH_FFPP_C23_ROOT."
    )


def index(root: Path | None, split: str, options: Mapping[str, Any]) -> list[VideoItem]:
    """Fakes of ``variant`` listed in ``lists/splits/<split>.txt`` plus their FF++ target videos."""
    if root is None:
        raise DatasetNotFoundError("DeeperForensics-1.0 needs --data-root pointing at DeeperForensics-1.0/")
    root = find_dir(root, "lists", ROOT_NAMES)
    variant = str(get_option(options, "variant", "end_to_end"))
    if variant not in VARIANTS:
        raise DatasetFormatError(
            f"unknown DeeperForensics-1.0 variant {variant!r} (--option variant=…); choose from "
            + ", ".join(VARIANTS)
        )
    split_path = root / "lists" / "splits" / SPLIT_FILES[split]
    if not split_path.is_file():
        raise DatasetNotFoundError(
            f"{str(split_path)!r} not found: point --data-root (or DFBENCH_DEEPERFORENSICS_ROOT) at "
            "the unzipped DeeperForensics-1.0 folder holding lists/ and manipulated_videos/."
        )
    fakes = read_split(split_path)
    fake_dir = root / "manipulated_videos" / variant
    fake_files = list_files(fake_dir)
    real_dir = _ffpp_originals(root, options)
    real_files = list_files(real_dir)
    items: list[VideoItem] = []
    for stem in fakes:
        name = f"{stem}.mp4"
        meta = {**file_meta(name, fake_files), "original": stem.split("_", 1)[0], "variant": variant}
        items.append(
            VideoItem(
                key=make_key(DATASET, 1, variant, stem),
                label=1,
                method=variant,
                path=os.path.join(fake_dir, name),
                meta=meta,
            )
        )
    for target in dict.fromkeys(stem.split("_", 1)[0] for stem in fakes):
        name = f"{target}.mp4"
        items.append(
            VideoItem(
                key=make_key(DATASET, 0, "youtube", target),
                label=0,
                method="youtube",
                path=os.path.join(real_dir, name),
                meta=file_meta(name, real_files),
            )
        )
    return items
