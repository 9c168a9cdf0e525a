"""Reading the official list and label files robustly: one place for the traps every list shares.

Users hand dfbench list files that went through editors, spreadsheets and download managers.
Whatever happens to them, the answer is one line naming the file and the fix, never a bare
``UnicodeDecodeError`` or ``IndexError``:

- a **UTF-8 byte-order mark** (Windows editors, Excel "CSV UTF-8") is accepted, not refused at line 1;
- a **binary or non-UTF-8 file** (a zip, an image, a UTF-16 export given in its place) is refused
  with the file name and the byte offset;
- **blank lines** and a missing final newline are tolerated;
- **duplicate entries** are counted once, with one warning that says how many and shows examples
  (a silently shortened list would hide a corrupted file);
- a **CSV row with too few fields** is refused with its line number.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from .common import DatasetFormatError

log = logging.getLogger(__name__)

T = TypeVar("T")


def read_text(path: Path | str) -> str:
    """The file's text as UTF-8 (a leading BOM dropped); :class:`DatasetFormatError` if it is not text."""
    path = Path(path)
    data = path.read_bytes()
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DatasetFormatError(
            f"{str(path)!r} is not a text file (it contains NUL bytes): is this the right file? "
            "Replace it with the official list/label file from the dataset download."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        hint = (
            " It looks like UTF-16 (a spreadsheet export): save it as UTF-8."
            if data.startswith((b"\xff\xfe", b"\xfe\xff"))
            else " Replace it with the official list/label file from the dataset download."
        )
        raise DatasetFormatError(
            f"{str(path)!r} is not UTF-8 text (undecodable byte at offset {e.start}).{hint}"
        ) from None


def read_lines(path: Path | str) -> list[tuple[int, str]]:
    """``(line number, stripped line)`` for every non-blank line of a text list file."""
    return [
        (n, line.strip())
        for n, line in enumerate(read_text(path).splitlines(), 1)
        if line.strip()
    ]


def read_csv_rows(path: Path | str) -> list[tuple[int, list[str]]]:
    """``(line number, fields)`` of a CSV file, BOM and encoding handled like :func:`read_text`."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    return [(reader.line_num, row) for row in reader if row and "".join(row).strip()]


def require_fields(path: Path | str, lineno: int, row: Sequence[str], n: int, expected: str) -> None:
    """Refuse a CSV row with fewer than ``n`` fields, naming the file, line and expected shape."""
    if len(row) < n:
        raise DatasetFormatError(
            f"{str(path)!r} line {lineno}: expected {expected}, got {','.join(row)!r} "
            f"({len(row)} field{'s' if len(row) != 1 else ''}); fix or remove that line."
        )


def dedupe(
    path: Path | str, entries: Iterable[tuple[int, Hashable, T]], what: str = "entry"
) -> list[T]:
    """Keep the first of entries sharing a key, warning once with the count and examples.

    ``entries`` are ``(line number, key, value)``; returns the values in file order.
    """
    seen: dict[Hashable, int] = {}
    out: list[T] = []
    repeats: list[str] = []
    for lineno, key, value in entries:
        if key in seen:
            repeats.append(f"line {lineno} repeats line {seen[key]}")
            continue
        seen[key] = lineno
        out.append(value)
    if repeats:
        more = f" … (+{len(repeats) - 3} more)" if len(repeats) > 3 else ""
        log.warning(
            "%s: %d duplicate %s%s counted once (%s%s); a list with repeats may be corrupted — "
            "compare it with the official file",
            path,
            len(repeats),
            what,
            "" if len(repeats) == 1 else "s",
            "; ".join(repeats[:3]),
            more,
        )
    return out
