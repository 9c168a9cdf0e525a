"""Cross-dataset protocol presets: the datasets a paper reports, run in one go, paper beside measured.

``dfbench suite laanet-cross -d laanet`` runs one detector over every dataset of a paper's
cross-dataset table and prints one table: for each of the paper's columns, the dfbench dataset it
is (LAA-Net's "DFDC" is the DFDC *preview*), the videos actually scored, the measured video AUC/AP
and the number the paper reports, read from the reported side of the leaderboard entries
(``leaderboards/<dataset>/<protocol>/<detector id>.json``) with their source.

A dataset whose data is not on this machine (no ``--data-root NAME=DIR`` and no
``DFBENCH_<NAME>_ROOT``) or whose download is incomplete is listed with the reason instead of
stopping the suite; the other datasets still run. Presets are data (:data:`SUITES`); a suite is
a list of :class:`SuiteEntry`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DfbenchError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuiteEntry:
    """One column of a paper's table and the dfbench dataset that is the same data."""

    column: str
    """The paper's name for it (``"DFDC"`` in LAA-Net's table, which is DFDCP)."""
    dataset: str
    split: str = "test"
    options: Mapping[str, Any] = field(default_factory=dict)
    leaderboard_dataset: str | None = None
    """Where the reported number lives under ``leaderboards/`` (default: ``dataset``)."""
    note: str = ""


@dataclass(frozen=True)
class Suite:
    name: str
    paper: str
    protocol: str
    """The leaderboard protocol folder of the reported numbers, e.g. ``video_train-ffpp-raw``."""
    entries: tuple[SuiteEntry, ...]
    reported_id: str | Callable[[str], str]
    """Leaderboard detector id of the reported numbers, or a function of the detector id run."""
    description: str = ""


def _dfb_id(detector: str) -> str:
    """DeepfakeBench's entries are ``<family>.dfb``: the family of the detector that is run."""
    return detector.split(".", 1)[0].split("_", 1)[0] + ".dfb"


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite(
            "laanet-cross",
            "LAA-Net (Nguyen et al., CVPR 2024), README 'Main Results'",
            "video_train-ffpp-raw",
            (
                SuiteEntry("FF++", "ffpp_raw"),
                SuiteEntry("CDF", "celebdf_v2"),
                SuiteEntry("DFW", "dfw"),
                SuiteEntry("DFD", "dfd"),
                SuiteEntry(
                    "DFDC", "dfdcp", leaderboard_dataset="dfdc",
                    note="LAA-Net's 'DFDC' column is the DFDC preview (its loader reads dataset.json)",
                ),
            ),
            "laanet_efnb4.official_sbi",
            "trained on FF++ raw (c0); video-level AUC/AP",
        ),
        Suite(
            "sbi-cross",
            "SBI (Shiohara & Yamasaki, CVPR 2022), README",
            "video_train-ffpp-raw",
            (
                SuiteEntry("CDF", "celebdf_v2"),
                SuiteEntry("DFD", "dfd", options={"compression": "raw"}, note="SBI reads DFD raw videos"),
                SuiteEntry("DFDC", "dfdc"),
                SuiteEntry("DFDCP", "dfdcp"),
                SuiteEntry("FFIW", "ffiw"),
            ),
            "sbi_efnb4.official",
            "trained on FF++ raw; video-level AUC, every face of a frame scored, max per frame",
        ),
        Suite(
            "dfb-cross",
            "DeepfakeBench (Yan et al., NeurIPS 2023 D&B), README table",
            "frame_train-ffpp-c23",
            (
                SuiteEntry("FF++ c23", "ffpp_c23"),
                SuiteEntry("FF++ c40", "ffpp_c40"),
                SuiteEntry("CDFv1", "celebdf_v1"),
                SuiteEntry("CDFv2", "celebdf_v2"),
                SuiteEntry("DF-1.0", "deeperforensics"),
                SuiteEntry("DFD", "dfd"),
                SuiteEntry("DFDC", "dfdc"),
                SuiteEntry("DFDCP", "dfdcp"),
                SuiteEntry(
                    "FSh", "ffpp_c23", options={"methods": ["FaceShifter"]},
                    leaderboard_dataset="faceshifter", note="FF++ c23 reals + FaceShifter fakes",
                ),
                SuiteEntry("UADFV", "uadfv"),
            ),
            _dfb_id,
            "trained on FF++ c23; DeepfakeBench reports FRAME-level AUC (dfbench measures video level)",
        ),
    )
}


class UnknownSuiteError(DfbenchError):
    """No preset of that name."""


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise UnknownSuiteError(f"unknown suite {name!r}; choose from {', '.join(sorted(SUITES))}")
    return SUITES[name]


def reported_entry(
    leaderboard_root: str | Path, dataset: str, protocol: str, detector_id: str
) -> dict[str, Any] | None:
    """The leaderboard entry holding the paper's number (its protocol first, else any protocol)."""
    root = Path(leaderboard_root)
    exact = root / dataset / protocol / f"{detector_id}.json"
    candidates = [exact] + sorted((root / dataset).glob(f"*/{detector_id}.json"))
    for path in candidates:
        if path.is_file():
            try:
                entry = json.loads(path.read_text())
            except ValueError as e:
                raise DfbenchError(f"cannot parse leaderboard entry {str(path)!r}: {e}") from None
            if entry.get("reported"):
                return {**entry, "_path": str(path)}
    return None


def run_suite(
    suite: Suite | str,
    detector: str,
    *,
    output: str | Path = "runs/suite",
    data_roots: Mapping[str, str] | None = None,
    leaderboard_root: str | Path = "leaderboards",
    reported_id: str | None = None,
    allow_partial: bool = False,
    progress: bool = True,
    evaluate: Callable[..., dict[str, Any]] | None = None,
    **run_kwargs: Any,
) -> dict[str, Any]:
    """Run ``detector`` over every entry of ``suite``; one row per entry, measured and reported.

    ``data_roots`` maps dataset ids (or aliases) to roots; missing ones come from the usual
    ``DFBENCH_<NAME>_ROOT`` resolution. A dataset that cannot be evaluated becomes a row with
    ``error`` set; nothing already measured is lost.
    """
    from .registry import get_registry

    if evaluate is None:
        from .runner import evaluate
    suite = get_suite(suite) if isinstance(suite, str) else suite
    reg = get_registry()
    roots = {reg.dataset(k).name: v for k, v in (data_roots or {}).items()}
    rep_id = reported_id or (suite.reported_id(detector) if callable(suite.reported_id) else suite.reported_id)
    rows = []
    for entry in suite.entries:
        spec = reg.dataset(entry.dataset)
        row: dict[str, Any] = {
            "column": entry.column,
            "dataset": spec.name,
            "split": entry.split,
            "options": dict(entry.options),
            "note": entry.note,
        }
        rep = reported_entry(leaderboard_root, entry.leaderboard_dataset or spec.name, suite.protocol, rep_id)
        if rep is not None:
            metrics = rep["reported"].get("metrics", {})
            row.update(
                reported_auc=metrics.get("auc"),
                reported_ap=metrics.get("ap"),
                reported_level=(rep.get("protocol_info") or {}).get("level"),
                reported_source=rep["reported"].get("source", ""),
                reported_entry=rep["_path"],
            )
        opts = dict(entry.options)
        if allow_partial:
            opts["allow_partial"] = True
        tag = spec.name + ("" if not entry.options else "-" + "-".join(map(str, entry.options.values())))
        given = Path(roots[spec.name]) if spec.name in roots else None
        if spec.needs_root and reg.pm.hook.resolve_dataset_root(spec=spec, data_dir=given) is None:
            # Say so before the detector is built: a suite usually meets several absent datasets.
            row["error"] = f"no data: --data-root {spec.name}=DIR or {spec.env_var}"
            rows.append(row)
            continue
        try:
            result = evaluate(
                detector, spec.name, split=entry.split, data_root=roots.get(spec.name),
                dataset_options=opts, output=Path(output) / tag.replace("/", "_").replace(" ", ""),
                progress=progress, **run_kwargs,
            )
        except DfbenchError as e:
            row["error"] = str(e).splitlines()[0]
            log.warning("suite %s: %s not evaluated: %s", suite.name, spec.name, row["error"])
        else:
            video = result["metrics"].get("video", {})
            row.update(
                measured_auc=video.get("auc"),
                measured_ap=video.get("ap"),
                n_real=video.get("n_real"),
                n_fake=video.get("n_fake"),
                partial=bool((result.get("dataset") or {}).get("count_warnings")),
                run_dir=result.get("output_dir"),
            )
        rows.append(row)
    return {"suite": suite.name, "paper": suite.paper, "protocol": suite.protocol,
            "description": suite.description, "detector": detector, "reported_id": rep_id, "rows": rows}


def _num(x: Any) -> str:
    return "—" if x is None else f"{x:.4f}"


def format_suite(report: Mapping[str, Any]) -> list[str]:
    """One table: the paper's columns as rows, measured beside reported."""
    lines = [
        f"suite {report['suite']}: {report['detector']} vs {report['reported_id']} as reported by {report['paper']}",
        f"  ({report['description']})",
        "",
    ]
    head = ["paper's column", "dfbench dataset", "videos r/f", "AUC measured", "AUC reported", "AP measured",
            "AP reported", "note"]
    body = []
    for r in report["rows"]:
        videos = f"{r['n_real']}/{r['n_fake']}" if r.get("n_real") is not None else "—"
        note = r.get("error") or r.get("note", "")
        if r.get("partial"):
            note = ("PARTIAL download; " + note).strip("; ")
        if r.get("reported_level") and r["reported_level"] != "video":
            note = (f"reported at {r['reported_level']} level; " + note).strip("; ")
        body.append([r["column"], r["dataset"], videos, _num(r.get("measured_auc")), _num(r.get("reported_auc")),
                     _num(r.get("measured_ap")), _num(r.get("reported_ap")), note])
    widths = [max(len(c) for c in col) for col in zip(head, *body, strict=True)]
    widths[-1] = min(widths[-1], 70)
    fmt = lambda cells: "  ".join(c[:w].ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    lines += [fmt(head), fmt(["-" * w for w in widths]), *map(fmt, body)]
    sources = sorted({r["reported_source"] for r in report["rows"] if r.get("reported_source")})
    if sources:
        lines += ["", "reported: " + "; ".join(sources)]
    missing = [r["dataset"] for r in report["rows"] if r.get("error")]
    if missing:
        lines.append(f"not evaluated: {', '.join(missing)}")
    return lines
