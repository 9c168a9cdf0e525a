"""Any Hugging Face dataset as a dfbench dataset: a ``save_to_disk`` folder, a local folder that
``datasets.load_dataset`` understands (``imagefolder``, ``videofolder``, csv/parquet with paths) or
a Hub id (read from the local Hub cache; nothing is downloaded when ``HF_HUB_OFFLINE=1``).

Options: ``path_or_id`` (default: the data root), ``split`` (the HF split name; default the
dfbench split, ``val`` falling back to ``validation``), ``media_column`` (default: the Image or
Video feature, else a column named video/image/path/file), ``label_column`` (default ``label``),
``label_map`` (``{"<raw label or class name>": 0|1|"real"|"fake"|None}``; ``None`` drops rows),
``revision``, ``id_column`` and ``method_column`` (optional, for keys and per-method results),
``cache_dir`` (where media stored as bytes inside the dataset are written once so the runner can
read them as files; default ``$DFBENCH_CACHE`` or ``~/.cache/dfbench``).

Without ``label_map`` labels are understood when they are 0/1, booleans or class names such as
real/fake/original/manipulated; anything else is refused with the list of values to map.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DatasetNotFoundError, DfbenchError
from ..fileio import atomic_write_bytes, cache_root
from ..specs import VideoItem
from .common import get_option, make_key

log = logging.getLogger(__name__)

DATASET = "hf"
REAL_WORDS = {
    "real",
    "original",
    "pristine",
    "genuine",
    "authentic",
    "bonafide",
    "bona_fide",
    "live",
}
FAKE_WORDS = {
    "fake",
    "deepfake",
    "manipulated",
    "synthetic",
    "spoof",
    "forged",
    "generated",
    "altered",
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif")
_MEDIA_NAMES = ("video", "image", "path", "file", "filepath", "file_path", "file_name", "filename")


class HFDatasetError(DfbenchError):
    """A Hugging Face dataset cannot be read or does not have the configured columns/labels."""


def _load(source: str, split: str, revision: str | None):
    """Load one split as a ``datasets.Dataset``; ``datasets`` is imported only here (it is slow)."""
    import datasets

    path = Path(source).expanduser()
    candidates = (
        [split]
        + (["validation"] if split == "val" else [])
        + (["val"] if split == "validation" else [])
    )
    if path.is_dir() and (
        (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()
    ):
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            for name in candidates:
                if name in loaded:
                    return loaded[name], path
            raise HFDatasetError(
                f"{str(path)!r} has the splits {', '.join(loaded)}, not {split!r}: choose one with "
                "--split or the hf option split=NAME"
            )
        return loaded, path
    local = path if path.is_dir() else None
    errors = []
    for name in candidates:
        try:
            return datasets.load_dataset(str(local or source), split=name, revision=revision), local
        except (ValueError, KeyError) as e:  # unknown split: try the next spelling
            errors.append(str(e))
        except OSError as e:  # not found locally, or a Hub id that is neither cached nor reachable
            raise DatasetNotFoundError(
                f"Hugging Face dataset {source!r} not found: pass an existing local folder or a Hub id "
                "that is in the local cache (nothing is downloaded offline) with --data-root or the "
                f"hf option path_or_id ({e})"
            ) from e
    raise HFDatasetError(f"cannot load split {split!r} of {source!r}: {errors[-1]}")


def _media_column(ds, requested: str | None) -> str:
    import datasets

    if requested:
        if requested not in ds.column_names:
            raise HFDatasetError(
                f"media column {requested!r} not in {ds.column_names} (option media_column)"
            )
        return requested
    for name, feat in ds.features.items():
        if isinstance(feat, (datasets.Image, datasets.Video)):
            return name
    for name in _MEDIA_NAMES:
        if name in ds.column_names:
            return name
    raise HFDatasetError(
        f"no image or video column found in {ds.column_names}: set the option media_column"
    )


def _label_function(feature: Any, label_map: Mapping[str, Any] | None, column: str):
    """``raw value -> 0 | 1 | None (drop)``; raises listing the values it could not map."""
    names = list(getattr(feature, "names", None) or [])

    def to_label(value: Any) -> int | None | str:
        if value is None:
            return None
        if isinstance(value, str):
            word = value.strip().lower()
            if word in ("0", "1"):
                return int(word)
            if word in REAL_WORDS:
                return 0
            if word in FAKE_WORDS:
                return 1
            return "unmapped"
        if isinstance(value, bool) or value in (0, 1):
            return int(value)
        return "unmapped"

    mapping = {str(k): v for k, v in (label_map or {}).items()}

    def convert(raw: Any) -> int | None | str:
        name = names[raw] if names and isinstance(raw, int) and 0 <= raw < len(names) else None
        if mapping:
            for k in (str(raw), name):
                if k is not None and k in mapping:
                    mapped = to_label(mapping[k])
                    if mapped == "unmapped":
                        raise HFDatasetError(
                            f"label_map[{k!r}] = {mapping[k]!r}: values must be 0/'real', 1/'fake' or null (drop)"
                        )
                    return mapped
            return "unmapped"
        # ClassLabel: trust the class names, not the integer order (which is alphabetical).
        return to_label(name) if name is not None else to_label(raw)

    return convert


def _media_id(value: Any, local_dir: Path | None) -> str | None:
    """A stable id for a row's media: its path (relative to ``local_dir``), else a digest of its bytes."""
    path, data = (value.get("path"), value.get("bytes")) if isinstance(value, dict) else (value, None)
    if isinstance(path, str) and path:
        p = Path(path)
        if local_dir is not None and p.is_absolute():
            try:
                p = p.relative_to(local_dir)
            except ValueError:
                pass
        return p.as_posix().lstrip("/")
    if data:
        return "sha1-" + hashlib.sha1(data).hexdigest()[:16]
    return None


def _cache_root(options: Mapping[str, Any]) -> Path:
    base = get_option(options, "cache_dir")
    return Path(base).expanduser() / "hf_media" if base else cache_root("hf_media")


def _sniff_suffix(data: bytes, hint: str | None) -> str:
    if hint and Path(hint).suffix:
        return Path(hint).suffix.lower()
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if data[4:8] == b"ftyp":
        return ".mp4"
    return ".bin"


def _kind(path: str, feature_kind: str | None) -> str:
    if feature_kind:
        return feature_kind
    if os.path.isdir(path):
        return "frames"
    return "image" if path.lower().endswith(IMAGE_SUFFIXES) else "video"


def index(root: Path | None, split: str, options: Mapping[str, Any]) -> list[VideoItem]:
    """Rows of a Hugging Face dataset split as items (see the module docstring for options)."""
    import datasets

    source = get_option(options, "path_or_id") or (str(root) if root is not None else None)
    if source is None:
        raise DatasetNotFoundError(
            "the hf dataset needs a source: pass --data-root DIR (a local dataset folder), set "
            "DFBENCH_HF_ROOT, or give the option path_or_id=<folder or Hub id>"
        )
    hf_split = str(get_option(options, "split", split))
    revision = get_option(options, "revision")
    ds, local_dir = _load(str(source), hf_split, revision)
    media = _media_column(ds, get_option(options, "media_column"))
    label_col = get_option(options, "label_column", "label")
    if label_col not in ds.column_names:
        raise HFDatasetError(
            f"label column {label_col!r} not in {ds.column_names} (option label_column)"
        )
    id_col, method_col = get_option(options, "id_column"), get_option(options, "method_column")
    for col, opt in ((id_col, "id_column"), (method_col, "method_column")):
        if col and col not in ds.column_names:
            raise HFDatasetError(f"{opt} {col!r} not in {ds.column_names}")

    feature = ds.features[media]
    feature_kind = None
    if isinstance(feature, datasets.Image):
        ds, feature_kind = ds.cast_column(media, datasets.Image(decode=False)), "image"
    elif isinstance(feature, datasets.Video):
        ds, feature_kind = ds.cast_column(media, datasets.Video(decode=False)), "video"
    convert = _label_function(ds.features[label_col], get_option(options, "label_map"), label_col)
    columns = [c for c in dict.fromkeys([media, label_col, id_col, method_col]) if c]
    ds = ds.select_columns(columns)

    fingerprint = hashlib.sha1(
        f"{source}|{hf_split}|{revision}|{getattr(ds, '_fingerprint', '')}".encode()
    ).hexdigest()[:16]
    cache = _cache_root(options) / fingerprint
    width = max(6, len(str(len(ds))))
    items: list[VideoItem] = []
    unmapped: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for i, row in enumerate(ds):
        label = convert(row[label_col])
        if label == "unmapped":
            unmapped[repr(row[label_col])] = unmapped.get(repr(row[label_col]), 0) + 1
            continue
        if label is None:
            continue
        value, meta = row[media], {"row": i}
        # Keys must survive the dataset growing: the dataset's own id, else the media file's
        # path (relative to the dataset folder), never the row number, which shifts when a file
        # is added or the rows are re-ordered.
        vid = str(row[id_col]) if id_col else _media_id(value, local_dir) or f"row{i:0{width}d}"
        if vid in seen_ids:
            seen_ids[vid] += 1
            vid = f"{vid}~{seen_ids[vid]}"
        else:
            seen_ids[vid] = 1
        method = str(row[method_col]) if method_col else DATASET
        path: str | None = None
        if isinstance(value, dict):
            if value.get("bytes"):
                data = value["bytes"]
                target = cache / f"{i:0{width}d}{_sniff_suffix(data, value.get('path'))}"
                if not target.is_file():
                    # Never half a file, even when interrupted (a cache: no fsync needed).
                    atomic_write_bytes(target, data, fsync=False)
                path = str(target)
            else:
                path = value.get("path")
        elif isinstance(value, str):
            path = value
        if path and local_dir is not None and not os.path.isabs(path):
            path = str(local_dir / path)
        if not path:
            meta["missing"] = True
            path = ""
        elif not os.path.exists(path):
            meta["missing"] = True
        items.append(
            VideoItem(
                key=make_key(DATASET, int(label), method, vid),
                label=int(label),
                method=method,
                path=path,
                kind=_kind(path, feature_kind) if path else (feature_kind or "video"),
                meta=meta,
            )
        )
    if unmapped:
        shown = ", ".join(f"{v} ({n} rows)" for v, n in sorted(unmapped.items())[:10])
        raise HFDatasetError(
            f"labels of column {label_col!r} that cannot be read as real/fake: {shown}. Give the option "
            'label_map, e.g. {"pristine": 0, "swapped": 1, "unknown": null} (null drops rows).'
        )
    return items
