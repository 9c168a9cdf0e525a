"""``dfbench datasets check``: is this download complete and readable? (engine; no click here)

For every split of a dataset (or the one asked for) :func:`check_dataset` indexes the official
membership, compares the counts with the official ones, and looks at each listed file: missing,
empty, not a video (wrong magic bytes), or — with ``decode=True`` — not decodable (OpenCV cannot
read its first frame: a truncated download). It also collects the label-file problems the index
reports (duplicate lines, list/folder label conflicts, unreadable or malformed list files) and
files listed under two keys. Nothing raises for a bad dataset: everything becomes a line of the
report, so one command shows every problem at once — the equivalent of lm-eval's
``--check_integrity``. :func:`format_report` renders it on one screen.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DfbenchError
from ..specs import DatasetSpec, VideoItem
from .common import LABEL_NAMES, check_counts, index_dataset, is_missing, merged_options

VIDEO_MAGIC = {
    b"ftyp": "mp4/mov",  # ISO base media: bytes 4..8
}
_PREFIX_MAGIC = {
    b"RIFF": "avi",
    b"\x1a\x45\xdf\xa3": "mkv/webm",
    b"\x00\x00\x01\xba": "mpeg-ps",
    b"\x00\x00\x01\xb3": "mpeg",
    b"FLV": "flv",
    b"\x89PNG": "png",
    b"\xff\xd8\xff": "jpeg",
    b"BM": "bmp",
    b"GIF8": "gif",
}
_MAX_LISTED = 5
# index_dataset's own one-line summaries of missing/broken files: shown in their own sections.
_SUMMARY = re.compile(r": \d+ (listed but missing on disk|broken): ")


class _Collect(logging.Handler):
    """Keeps the warnings the dataset code logs while indexing (duplicates, conflicts, …)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def sniff(path: str | Path) -> str | None:
    """The container a file's first bytes announce, or None when it is no known media format."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    if head[4:8] in VIDEO_MAGIC:
        return VIDEO_MAGIC[head[4:8]]
    for magic, kind in _PREFIX_MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


def _decodes(path: str) -> bool:
    # FFmpeg's own complaints ("moov atom not found") would interleave with the report; the
    # report says what is wrong. Effective when OpenCV is first imported here (the CLI case).
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        ok, frame = cap.read()
        return bool(ok and frame is not None and frame.size)
    finally:
        cap.release()


def _file_problem(item: VideoItem, decode: bool) -> str | None:
    """Why a present file cannot be evaluated, or None when it looks fine."""
    if item.meta.get("broken"):
        return str(item.meta["broken"])
    if item.kind == "frames" or os.path.isdir(item.path):
        return None  # frame folders (WildDeepfake): the index already flags empty/broken ones
    try:
        if os.path.getsize(item.path) == 0:
            return "empty file (0 bytes)"
    except OSError as e:
        return f"cannot stat: {e.strerror}"
    kind = sniff(item.path)
    if kind is None:
        return "not a video or image (unknown file header)"
    if decode and item.kind == "video" and not _decodes(item.path):
        return f"{kind} header but no decodable frame (truncated download?)"
    return None


def check_split(
    spec: DatasetSpec, root: Path | str | None, split: str, options: Mapping[str, Any], decode: bool
) -> dict[str, Any]:
    """One split's report: counts, missing/unreadable files, duplicates and label-file problems."""
    collect = _Collect()
    logger = logging.getLogger("dfbench.datasets")
    logger.addHandler(collect)
    # The report shows every warning in its own section; do not print them twice on stderr.
    propagate, logger.propagate = logger.propagate, False
    report: dict[str, Any] = {"split": split, "errors": [], "warnings": []}
    try:
        try:
            items = list(index_dataset(spec, root, split, options))
        except DfbenchError as e:
            report["errors"].append(str(e))
            return report
        opts = {**merged_options(spec, options), "allow_partial": True}
        try:
            report["count_problems"] = check_counts(spec, items, split, opts)
        except DfbenchError as e:  # e.g. nothing on disk at all
            report["count_problems"] = [str(e).splitlines()[0]]
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate
    # Count and missing/broken lines are reported in their own sections.
    report["warnings"] = [
        m
        for m in collect.messages
        if "going on because of --allow-partial" not in m and not _SUMMARY.search(m)
    ]
    labels = Counter(LABEL_NAMES[it.label] for it in items)
    missing = [it.path for it in items if is_missing(it)]
    unreadable = []
    for it in items:
        if is_missing(it):
            continue
        problem = _file_problem(it, decode)
        if problem:
            unreadable.append(f"{it.path} ({problem})")
    by_path: dict[str, list[str]] = defaultdict(list)
    for it in items:
        if it.path:
            by_path[os.path.normpath(it.path)].append(it.key)
    duplicates = [f"{p} is listed as {', '.join(keys)}" for p, keys in by_path.items() if len(keys) > 1]
    expected = spec.expected_counts.get(split) or {}
    report.update(
        listed=len(items),
        real=labels["real"],
        fake=labels["fake"],
        expected=dict(expected),
        missing=missing,
        unreadable=unreadable,
        duplicates=duplicates,
    )
    return report


def check_dataset(
    spec: DatasetSpec,
    root: Path | str | None,
    splits: list[str] | None = None,
    options: Mapping[str, Any] | None = None,
    decode: bool = True,
) -> dict[str, Any]:
    """Check every split of ``spec`` (or ``splits``); ``ok`` is False when anything is wrong."""
    reports = [check_split(spec, root, s, dict(options or {}), decode) for s in (splits or spec.splits)]
    n_problems = sum(
        len(r["errors"]) + len(r.get("count_problems", [])) + len(r.get("missing", []))
        + len(r.get("unreadable", [])) + len(r.get("duplicates", [])) + len(r["warnings"])
        for r in reports
    )
    return {
        "dataset": spec.name,
        "root": str(root) if root is not None else None,
        "splits": reports,
        "problems": n_problems,
        "ok": n_problems == 0,
    }


def _some(lines: list[str], indent: str = "    ") -> list[str]:
    out = [f"{indent}{line}" for line in lines[:_MAX_LISTED]]
    if len(lines) > _MAX_LISTED:
        out.append(f"{indent}… (+{len(lines) - _MAX_LISTED} more; --json lists all)")
    return out


def format_report(report: Mapping[str, Any]) -> list[str]:
    """The report on one screen: a table of the splits, then each kind of problem, then a verdict."""
    lines = [f"dataset {report['dataset']}  root {report['root']}", ""]
    lines.append(f"{'split':<8}{'listed':>8}{'real':>8}{'fake':>8}{'missing':>9}{'unreadable':>12}  expected")
    for r in report["splits"]:
        if r["errors"]:
            lines.append(f"{r['split']:<8}{'—':>8}  cannot index (see below)")
            continue
        exp = r["expected"]
        expected = f"{exp.get('real', '?')} / {exp.get('fake', '?')}" if exp else "not published"
        lines.append(
            f"{r['split']:<8}{r['listed']:>8}{r['real']:>8}{r['fake']:>8}"
            f"{len(r['missing']):>9}{len(r['unreadable']):>12}  {expected}"
        )
    for r in report["splits"]:
        sections = [
            ("index errors (label/list files, data root)", r["errors"]),
            ("count differences", r.get("count_problems", [])),
            ("missing on disk", r.get("missing", [])),
            ("unreadable", r.get("unreadable", [])),
            ("duplicates", r.get("duplicates", [])),
            ("label-file warnings", r["warnings"]),
        ]
        for title, items in sections:
            if items:
                lines.append("")
                lines.append(f"{r['split']}: {title} ({len(items)})")
                lines += _some([str(i).splitlines()[0] for i in items])
    lines.append("")
    if report["ok"]:
        lines.append("OK: every listed video is present and readable, counts match.")
    else:
        lines.append(
            f"NOT OK: {report['problems']} problem(s). Complete or repair the download; "
            "`--allow-partial` evaluates what is there and records the difference."
        )
    return lines
