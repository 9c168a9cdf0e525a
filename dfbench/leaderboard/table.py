"""The table model shared by the Markdown and HTML leaderboards: groups, ranking, columns, cells.

One table per (dataset, protocol) directory. Rows are ranked by their headline AUC (measured where
dfbench ran the detector, else reported); entries marked ``ranked: false`` (partial or subset runs,
set by the trust report) get no rank and sort after the ranked ones. Columns that are empty for every
row of a table are dropped, so a reported-only table shows no empty "measured" columns, and a CI is
shown only where the entry has one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .entries import Entry
from .entries import is_ranked as entries_is_ranked

DATASET_NAMES = {
    "ffpp_raw": "FaceForensics++ raw (c0)", "ffpp_c23": "FaceForensics++ c23", "ffpp_c40": "FaceForensics++ c40",
    "celebdf_v2": "Celeb-DF v2", "celebdf_v1": "Celeb-DF v1", "dfd": "DeepFakeDetection (DFD)",
    "dfdc": "DFDC (full test set)", "dfdcp": "DFDC preview", "dfw": "WildDeepfake", "ffiw": "FFIW-10K",
    "faceshifter": "FaceShifter (FF++)", "deeperforensics": "DeeperForensics-1.0", "uadfv": "UADFV",
    "demo": "dfbench demo split",
}
DATASET_ORDER = ["demo", "ffpp_raw", "ffpp_c23", "ffpp_c40", "celebdf_v2", "celebdf_v1", "dfd", "dfdc", "dfdcp",
                 "dfw", "ffiw", "faceshifter", "deeperforensics", "uadfv"]
# The seeded reported entries use the paper's short names; the page uses `dfbench list corruptions` names.
CORRUPTION_ALIASES = {"pixel": "pixelation", "compress": "compression"}
CORRUPTION_ORDER = ["saturation", "contrast", "block", "noise", "blur", "pixelation", "compression"]
FLAG_HELP = {
    "reported-not-reproduced": "the number comes from a paper or README; dfbench has not re-run it",
    "oracle-selection": "checkpoint chosen on the test set: an upper bound, not a fair estimate",
    "unverified-number": "confidence L (recalled from a paper table): check the source before quoting",
    "third-party-retest": "someone other than the authors re-ran the released weights",
    "different-preprocessing": "the authors' own face pipeline, not dfbench's",
    "merged-ff-pairs": "FF++ pairs merged across methods by folder name: the video count differs",
    "untrained": "measured with random weights: meaningless numbers, kept visible",
    "demo-data": "measured on the embedded demo split: a smoke test, not a benchmark",
    "partial-dataset": "fewer videos than the official split",
}
CONFIDENCE_HELP = {"H": "confidence H: read in the source", "M": "confidence M: from an issue thread or abstract",
                   "L": "confidence L: recalled from a paper table, verify before quoting"}


def canonical_corruption(name: str) -> str:
    return CORRUPTION_ALIASES.get(name, name)


def corruption_order(t: str):
    return (CORRUPTION_ORDER.index(t) if t in CORRUPTION_ORDER else len(CORRUPTION_ORDER), t)


# -- entry accessors -----------------------------------------------------------------------------

def level(e: Entry) -> str:
    return e.data["protocol_info"]["level"]


def measured_metrics(e: Entry) -> dict[str, Any]:
    m = e.data.get("measured")
    if not m:
        return {}
    return m["metrics"].get("frame" if level(e) == "frame" else "video") or {}


def reported_metrics(e: Entry) -> dict[str, Any]:
    return (e.data.get("reported") or {}).get("metrics") or {}


def is_ranked(e: Entry) -> bool:
    return entries_is_ranked(e.data)


def headline(e: Entry) -> float | None:
    v = measured_metrics(e).get("auc")
    if v is None:
        v = reported_metrics(e).get("auc")
    return None if v is None else float(v)


def row_sort_key(e: Entry):
    h = headline(e)
    return (not is_ranked(e), -(h if h is not None else -1.0), e.data["detector_id"])


def train_key(protocol: str) -> str:
    return protocol.partition("_train-")[2] or "?"


def train_label(key: str) -> str:
    return DATASET_NAMES.get(key.replace("-", "_"), key.replace("-", " "))


def title(dataset: str, protocol: str) -> str:
    """From the directory names, so every row of a table shares it."""
    lvl = protocol.partition("_train-")[0]
    return (f"{DATASET_NAMES.get(dataset, dataset)} — {lvl.replace('_', ' ')} level, trained on "
            f"{train_label(train_key(protocol))}")


def anchor(d: str, p: str) -> str:
    return f"{d}--{p}".replace(".", "-")


def groups(entries: list[Entry]) -> list[tuple[str, str, list[Entry]]]:
    by: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for e in entries:
        by[(e.data["dataset"], e.data["protocol"])].append(e)
    order = {d: i for i, d in enumerate(DATASET_ORDER)}
    keys = sorted(by, key=lambda k: (order.get(k[0], len(order)), k[0], k[1]))
    return [(d, p, sorted(by[(d, p)], key=row_sort_key)) for d, p in keys]


def ranks(rows: list[Entry]) -> dict[str, int]:
    """Rank by headline AUC among ranked rows with a headline (rows are already in rank order)."""
    out, n = {}, 0
    for e in rows:
        if is_ranked(e) and headline(e) is not None:
            n += 1
            out[e.data["detector_id"]] = n
    return out


def pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.2f}"


def num(x: float) -> str:
    """Fixed formatting for figures spanning 1e-3 (toy variants) to 1e4 (frames/s)."""
    x = float(x)
    if x == 0:
        return "0"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


# -- cells -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    text: str = ""  # plain text (Markdown and the HTML cell's main text)
    v: float | None = None  # numeric sort key
    sub: str = ""  # secondary text: a CI, a confidence tag (small in HTML)
    tip: str = ""  # tooltip
    reported: bool = False  # the value is the paper's, shown in the reported style


EMPTY = Cell()


def _metric(e: Entry, key: str) -> Cell:
    """Measured where dfbench ran it (with its CI when there is one), else the reported number."""
    m = measured_metrics(e)
    if m.get(key) is not None:
        ci = m.get(f"{key}_ci95")
        sub = f"[{pct(ci[0])}, {pct(ci[1])}]" if ci and None not in ci else ""
        return Cell(pct(m[key]), float(m[key]), sub, "measured by dfbench" + (", 95 % bootstrap CI over videos" if sub else ""))
    r = reported_metrics(e)
    if r.get(key) is not None:
        return Cell(pct(r[key]), float(r[key]), "rep.", "reported, not measured here", reported=True)
    return EMPTY


def auc_measured(e: Entry) -> Cell:
    m = measured_metrics(e)
    if m.get("auc") is None:
        return EMPTY
    ci = m.get("auc_ci95")
    sub = f"[{pct(ci[0])}, {pct(ci[1])}]" if ci and None not in ci else ""
    return Cell(pct(m["auc"]), float(m["auc"]), sub, "95 % bootstrap CI over videos" if sub else "")


def auc_reported(e: Entry) -> Cell:
    rep = e.data.get("reported") or {}
    v = reported_metrics(e).get("auc")
    if v is None:
        return EMPTY
    conf = rep.get("confidence", "")
    return Cell(pct(v), float(v), conf, CONFIDENCE_HELP.get(conf, "") + f"; source: {rep.get('source', '?')}",
                reported=True)


def delta(e: Entry) -> Cell:
    m, r = measured_metrics(e).get("auc"), reported_metrics(e).get("auc")
    if m is None or r is None:
        return EMPTY
    d = 100 * (float(m) - float(r))
    return Cell(f"{d:+.2f}", d, "", "measured − reported AUC, percentage points")


def videos(e: Entry) -> Cell:
    c = (e.data.get("measured") or {}).get("counts") or {}
    if not c:
        return EMPTY
    real, fake = c.get("videos_scored_real"), c.get("videos_scored_fake")
    total = c.get("videos_scored")
    if total is None and real is not None and fake is not None:
        total = real + fake
    if total is None:
        return EMPTY
    tip = f"{real} real / {fake} fake videos scored" if real is not None else "videos scored"
    failed = c.get("videos_failed")
    if failed:
        tip += f"; {failed} failed"
    return Cell(str(total), float(total), "", tip)


def speed(e: Entry) -> Cell:
    t = (e.data.get("measured") or {}).get("throughput") or {}
    v = t.get("videos_per_s")
    if v is None:
        return EMPTY
    mfs = t.get("model_frames_per_s")
    unit = t.get("unit") or "frame"
    return Cell(f"{v:.2f}", float(v), f"{mfs:.1f} {unit}s/s" if mfs else "",
                "videos/s end to end in the run (decode + faces + model)"
                + (f"; model alone {mfs:.1f} {unit}s/s" if mfs else "") + "; machine-dependent")


def _cost(e: Entry) -> dict[str, Any] | None:
    return (e.data.get("measured") or {}).get("cost")


def cost_params(e: Entry) -> Cell:
    c = _cost(e)
    return EMPTY if not c else Cell(num(c["params"] / 1e6), c["params"] / 1e6, "", "parameters, millions")


def cost_gmacs(e: Entry) -> Cell:
    c = _cost(e)
    if not c:
        return EMPTY
    per_video = c.get("gmacs_per_video")
    return Cell(f"{num(c['gmacs'])}/{c['unit']}", c["gmacs"], f"{num(per_video)}/video" if per_video is not None else "",
                "multiply-accumulates per input (and per video under the protocol)")


def cost_best(e: Entry) -> Cell:
    c = _cost(e)
    if not c:
        return EMPTY
    return Cell(f"{num(c['units_per_s'])} {c['unit']}s/s", c["units_per_s"], c["best_config"],
                "best model-only throughput of `dfbench bench`, with its configuration")


def cost_videos(e: Entry) -> Cell:
    v = (_cost(e) or {}).get("videos_per_s")
    return EMPTY if v is None else Cell(num(v), v, "", "videos/s end to end in `dfbench bench`")


def training(e: Entry) -> Cell:
    return Cell(e.data["protocol_info"]["train_set"])


def selection(e: Entry) -> Cell:
    return Cell(e.data["protocol_info"]["checkpoint_selection"])


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    cell: Callable[[Entry], Cell]
    numeric: bool = True
    optional: bool = False  # hidden by default in HTML (column picker); always in Markdown when non-empty
    tip: str = ""


def columns(level_name: str) -> list[Column]:
    lv = f"{level_name}-level"
    return [
        Column("auc_m", "AUC measured ↑", auc_measured, tip=f"{lv} AUC measured by dfbench, 95 % bootstrap CI"),
        Column("auc_r", "AUC reported ↑", auc_reported, tip=f"{lv} AUC from the paper or README, confidence H/M/L"),
        Column("delta", "Δ", delta, tip="measured − reported AUC, percentage points"),
        Column("ap", "AP ↑", lambda e: _metric(e, "ap"), tip=f"{lv} average precision; measured where dfbench ran"),
        Column("videos", "videos", videos, tip="videos scored by dfbench"),
        Column("speed", "videos/s ↑", speed, tip="end-to-end videos/s of the run (machine-dependent)"),
        Column("eer", "EER ↓", lambda e: _metric(e, "eer"), optional=True, tip=f"{lv} equal error rate"),
        Column("acc", "ACC ↑", lambda e: _metric(e, "acc"), optional=True, tip=f"{lv} accuracy at 0.5"),
        Column("params", "params (M) ↓", cost_params, optional=True, tip="from `dfbench bench`"),
        Column("gmacs", "GMACs ↓", cost_gmacs, optional=True, tip="from `dfbench bench`"),
        Column("best", "best model throughput ↑", cost_best, optional=True, tip="from `dfbench bench`"),
        Column("bench_vps", "bench videos/s ↑", cost_videos, optional=True, tip="from `dfbench bench`"),
        Column("train", "training data", training, numeric=False, optional=True),
        Column("select", "checkpoint selection", selection, numeric=False, optional=True),
    ]


OPTIONAL_GROUPS = [("eer", "EER"), ("acc", "ACC"), ("params", "params"), ("gmacs", "GMACs"),
                   ("best", "model throughput"), ("bench_vps", "bench videos/s"), ("train", "training data"),
                   ("select", "checkpoint selection")]


def table_columns(rows: list[Entry]) -> list[Column]:
    """The columns with at least one non-empty cell in ``rows``."""
    lvl = level(rows[0]) if rows else "video"
    return [c for c in columns(lvl) if any(c.cell(e).text for e in rows)]


def source_text(e: Entry) -> str:
    rep = e.data.get("reported")
    parts = []
    if rep:
        parts.append(rep["source"])
    if e.data.get("measured"):
        m = e.data["measured"]
        sha = (m["weights"].get("sha256") or "")[:12]
        parts.append(f"dfbench {m['dfbench_version']}, protocol {m['protocol_hash'][:12]}"
                     + (f", weights {sha}" if sha else ""))
    return "; ".join(parts)


def footnote(e: Entry) -> str:
    text = e.data.get("footnote") or ""
    note = (e.data.get("reported") or {}).get("note")
    if note:
        text = f"{text} {note}".strip()
    return text


def cost_notes(rows: list[Entry]) -> list[str]:
    """Where the cost figures were measured, one line per distinct machine (they vary per machine)."""
    by: dict[str, list[str]] = defaultdict(list)
    for e in rows:
        c = _cost(e)
        if not c:
            continue
        hw = c["hardware"]
        where = (f"{hw['cpu']}, {hw['threads']} threads, torch {hw['torch']}, {hw['device']}; "
                 f"dfbench {c['dfbench_version']}")
        if c.get("e2e_video"):
            where += f"; videos/s end to end on {c['e2e_video']}"
        by[where].append(e.data["detector_id"])
    return [f"cost (`dfbench bench`) measured on {where}: " + ", ".join(f"`{d}`" for d in sorted(ids))
            for where, ids in sorted(by.items())]


def robustness_rows(rows: list[Entry]) -> list[tuple[Entry, str, dict[str, dict[str, float]]]]:
    """``(entry, "reported"|"measured", {canonical type: {level: AUC}})`` for each robustness block."""
    out = []
    for e in rows:
        for kind in ("reported", "measured"):
            r = (e.data.get(kind) or {}).get("robustness")
            if r:
                out.append((e, kind, {canonical_corruption(t): lv for t, lv in r.items()}))
    return out


def level_key(item):
    k = item[0]
    return (1, 0) if k == "mean" else (0, int(k))
