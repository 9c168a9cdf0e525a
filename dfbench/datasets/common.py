"""Shared helpers of the built-in dataset plugins: option handling, file matching, count checks.

Every built-in dataset follows the same recipe (see ``docs/datasets.md``): enumerate the official
split membership from the official list/label files or folder rules, *then* look the files up on
disk. A listed file that is absent is still returned as a :class:`~dfbench.specs.VideoItem` with
``meta["missing"] = True`` and an empty file with ``meta["broken"]``, so that the runner records a
per-video failure instead of the run crashing.

:func:`index_dataset` is the single entry point the runner and ``dfbench index`` use: it validates
the split, resolves the data root, calls the dataset's ``index``, sorts the items and checks key
uniqueness; :func:`check_counts` then compares the counts with the official ones.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import DatasetCountMismatch, DatasetNotFoundError, DfbenchError
from ..specs import DatasetSpec, VideoItem, load_object

log = logging.getLogger(__name__)

LABEL_NAMES = {0: "real", 1: "fake"}


class UnknownSplitError(DfbenchError, ValueError):
    """The requested split is not one the dataset defines."""


class DuplicateKeyError(DfbenchError):
    """Two items of one index share a key: results would be merged silently, so refuse."""


class DatasetFormatError(DfbenchError):
    """An official list or label file does not have the format the plugin expects."""


class DatasetIndex(list):
    """A ``list[VideoItem]`` that also carries the count warnings of :func:`check_counts`.

    It stays a plain list for every consumer; the runner records ``warnings`` (non-empty only
    with ``allow_partial``) in the result so that a partial evaluation is never mistaken for the
    official one.
    """

    def __init__(self, items: Iterable[VideoItem] = (), warnings: Iterable[str] = ()):
        super().__init__(items)
        self.warnings: list[str] = list(warnings)

    @property
    def partial(self) -> bool:
        return bool(self.warnings)


# -- options ---------------------------------------------------------------------------------


def get_option(options: Mapping[str, Any] | None, name: str, default: Any = None) -> Any:
    """``options[name]``, treating an absent key and ``None`` alike (CLI flags default to None)."""
    if not options:
        return default
    value = options.get(name)
    return default if value is None else value


def merged_options(spec: DatasetSpec, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The spec's defaults overridden by the user's (non-None) options."""
    merged = dict(spec.options)
    for key, value in (options or {}).items():
        if value is not None:
            merged[key] = value
    return merged


def as_list(value: Any) -> list[str]:
    """Accept ``"a,b"``, ``["a", "b"]`` or ``("a",)`` for list-valued options such as methods."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def selected_methods(available: Iterable[str], default: Iterable[str], requested: Any) -> list[str]:
    """Resolve ``--methods`` (``None`` = defaults, ``all`` = every method) case-insensitively."""
    available = list(available)
    names = as_list(requested)
    if not names:
        return list(default)
    if [n.lower() for n in names] == ["all"]:
        return available
    by_lower = {m.lower(): m for m in available}
    out = []
    for n in names:
        if n.lower() not in by_lower:
            raise DfbenchError(
                f"unknown method {n!r}; choose from {', '.join(available)} (or 'all') with --methods"
            )
        if by_lower[n.lower()] not in out:
            out.append(by_lower[n.lower()])
    return out


# -- files -----------------------------------------------------------------------------------


def list_files(directory: Path, suffixes: tuple[str, ...] = (".mp4",)) -> dict[str, int]:
    """``{file name: size}`` of the regular files in ``directory`` with one of ``suffixes``.

    Only official extensions are read, so the extension-less temp files that an interrupted
    download leaves behind are never picked up. A missing directory is an empty listing: partial
    downloads are normal and reported through the counts.
    """
    out: dict[str, int] = {}
    try:
        with os.scandir(directory) as it:
            for entry in it:
                if entry.name.startswith(".") or not entry.name.lower().endswith(suffixes):
                    continue
                try:
                    if entry.is_file():
                        out[entry.name] = entry.stat().st_size
                except OSError:  # dangling symlink: treat like a missing file
                    continue
    except (FileNotFoundError, NotADirectoryError):
        pass
    return out


def file_meta(name: str, listing: Mapping[str, int]) -> dict[str, Any]:
    """The per-item meta for a listed file: ``missing`` when absent, ``broken`` when empty."""
    if name not in listing:
        return {"missing": True}
    if listing[name] == 0:
        return {"broken": "empty file (0 bytes)"}
    return {}


def make_key(dataset: str, label: int, method: str, video: str) -> str:
    """``dataset/label/method/video``: the globally unique key of the protocol."""
    return f"{dataset}/{LABEL_NAMES[label]}/{method}/{video}"


def find_dir(root: Path, marker: str, names: Iterable[str] = ()) -> Path:
    """Return ``root`` or one of its children named in ``names`` that contains ``marker``.

    Users point ``--data-root`` at the extracted folder or at its parent; accept both.
    """
    if (root / marker).exists():
        return root
    for name in names:
        if (root / name / marker).exists():
            return root / name
    return root


def is_missing(item: VideoItem) -> bool:
    return bool(item.meta.get("missing"))


# -- counts ----------------------------------------------------------------------------------


def _expected_for(
    spec: DatasetSpec, split: str, options: Mapping[str, Any], items: list[VideoItem]
) -> dict[str, dict[str, int]]:
    """``{group: {"real": n, "fake": n}}``; groups are methods for per-method datasets."""
    expected = spec.expected_counts.get(split)
    if not expected and spec.options.get("counts_from_list"):
        # No published per-split totals (Celeb-DF v1, DeeperForensics-1.0): the official list is
        # the count, so a listed video that is missing on disk is still a loud mismatch.
        return {"": {"real": sum(it.label == 0 for it in items), "fake": sum(it.label == 1 for it in items)}}
    if not expected:
        return {}
    if not spec.counts_per_method:
        return {"": {"real": int(expected.get("real", 0)), "fake": int(expected.get("fake", 0))}}
    all_methods = spec.options.get("all_methods", spec.options.get("methods", ()))
    if all_methods:
        methods = selected_methods(
            all_methods, spec.options.get("methods", ()), get_option(options, "methods")
        )
    else:
        # A third-party spec that declares no method list: check every method it produced.
        methods = sorted({it.method for it in items if it.label == 1})
    out = {"": {"real": int(expected.get("real", 0)), "fake": 0}}
    for m in methods:
        out[m] = {"real": 0, "fake": int(expected.get("fake", 0))}
    return out


def check_counts(
    spec: DatasetSpec, items: list[VideoItem], split: str, options: Mapping[str, Any] | None = None
) -> list[str]:
    """Compare what is on disk with the official counts of ``spec`` for ``split``.

    Listed-but-missing files do not count as found. Returns the list of discrepancies when
    ``options["allow_partial"]`` is true (the caller records them in the result) and an empty list
    when everything matches; otherwise raises :class:`~dfbench.errors.DatasetCountMismatch`
    with a message that names ``--allow-partial``.
    """
    options = options or {}
    expected = _expected_for(spec, split, options, items)
    if not expected:
        return []
    found: Counter = Counter()
    listed: Counter = Counter()
    for item in items:
        group = item.method if spec.counts_per_method and item.label == 1 else ""
        cls = LABEL_NAMES[item.label]
        listed[group, cls] += 1
        if not is_missing(item):
            found[group, cls] += 1
    problems = []
    for group, by_class in expected.items():
        for cls, n in by_class.items():
            if n == 0 and found[group, cls] == 0:
                continue
            if found[group, cls] != n:
                where = f"{group} {cls}" if group else cls
                missing = listed[group, cls] - found[group, cls]
                note = f" ({missing} listed but missing on disk)" if missing else ""
                problems.append(
                    f"{spec.name} {split}: expected {n} {where} videos, found {found[group, cls]}{note}"
                )
    from_list = bool(spec.options.get("counts_from_list")) and not spec.expected_counts.get(split)
    if not problems and not (from_list and not sum(found.values())):
        return []
    if (get_option(options, "allow_partial", False) or from_list) and not sum(found.values()):
        # --allow-partial means "evaluate what is there"; with nothing there a run would finish
        # with every metric n/a and exit 0, which reads like success.
        raise DatasetCountMismatch(
            f"nothing to evaluate: none of the {spec.name} {split} videos is on disk "
            f"({sum(listed.values())} listed; the official list/label file may be empty or the "
            "data root wrong). --allow-partial accepts an incomplete download, not an empty one: "
            f"check --data-root / {spec.env_var} and the official list file."
        )
    if get_option(options, "allow_partial", False):
        for p in problems:
            log.warning("%s (going on because of --allow-partial)", p)
        return problems
    raise DatasetCountMismatch(
        "the data on disk differs from the official "
        f"{spec.name} {split} split:\n  " + "\n  ".join(problems) + "\n"
        "Results on a partial split are not comparable with published numbers. Complete the "
        "download, or pass --allow-partial (options['allow_partial']=True) to evaluate what is "
        "there; the discrepancy is then recorded in the result."
    )


# -- the entry point -------------------------------------------------------------------------


def resolve_root(spec: DatasetSpec, root: Path | str | None) -> Path | None:
    """The data root, from the argument or ``DFBENCH_<NAME>_ROOT``; a clear error when absent."""
    if root is None:
        env = os.environ.get(spec.env_var)
        root = Path(env) if env else None
    if root is None:
        if spec.needs_root:
            raise DatasetNotFoundError(
                f"dataset {spec.name!r} needs its data: pass --data-root DIR or set "
                f"{spec.env_var}=DIR (see docs/datasets.md for the expected layout)."
            )
        return None
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetNotFoundError(
            f"data root {str(root)!r} for dataset {spec.name!r} is not a directory: fix --data-root "
            f"or {spec.env_var} (see docs/datasets.md for the expected layout)."
        )
    return root


def index_dataset(
    spec: DatasetSpec,
    root: Path | str | None,
    split: str,
    options: Mapping[str, Any] | None = None,
    check: bool = False,
) -> DatasetIndex:
    """Everything that will be evaluated for ``spec``/``split``, sorted by key.

    Validates the split name, resolves the root (:class:`DatasetNotFoundError` naming
    ``--data-root`` and ``spec.env_var``), calls ``spec.index`` with the spec's default options
    overridden by ``options`` and refuses duplicate keys. With ``check=True`` it also runs
    :func:`check_counts` (raising unless ``allow_partial``; the warnings are kept on the returned
    :class:`DatasetIndex`); the runner calls :func:`check_counts` itself to record the warnings.
    """
    if split not in spec.splits:
        raise UnknownSplitError(
            f"dataset {spec.name!r} has no split {split!r}; its splits are {', '.join(spec.splits)} (--split)"
        )
    path = resolve_root(spec, root)
    opts = merged_options(spec, options)
    items = list(load_object(spec.index)(path, split, opts))
    items.sort(key=lambda it: it.key)
    dups = [k for k, n in Counter(it.key for it in items).items() if n > 1]
    if dups:
        raise DuplicateKeyError(
            f"dataset {spec.name!r} produced {len(dups)} duplicate video keys (e.g. {dups[0]!r}); "
            "keys must be unique so that different videos are never merged. This is a bug in the "
            "dataset plugin."
        )
    bad = [it.key for it in items if it.label not in (0, 1)]
    if bad:
        raise DfbenchError(
            f"dataset {spec.name!r}: labels must be 0 (real) or 1 (fake), e.g. {bad[0]!r}"
        )
    warnings = check_counts(spec, items, split, opts) if check else []
    # One summary line per kind of problem: a partial download can miss thousands of files.
    missing = [it.path for it in items if is_missing(it)]
    broken = [
        f"{it.path} ({it.meta['broken']})"
        for it in items
        if not is_missing(it) and it.meta.get("broken")
    ]
    for what, paths in (("listed but missing on disk", missing), ("broken", broken)):
        if paths:
            more = f" … (+{len(paths) - 3} more)" if len(paths) > 3 else ""
            log.warning(
                "%s %s: %d %s: %s%s", spec.name, split, len(paths), what, ", ".join(paths[:3]), more
            )
    return DatasetIndex(items, warnings)
