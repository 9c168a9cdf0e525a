"""Render the leaderboard entries as ``leaderboards/README.md`` and ``leaderboards/index.html``.

Both pages are pure functions of the committed JSON entries: fixed ordering, fixed rounding, no
timestamps, no machine facts beyond what the entries store. That is what lets ``render --check``
compare the committed pages with a fresh render and fail when someone edited an entry without
re-rendering (or edited a page by hand). The HTML is one self-contained file: inline CSS, inline
SVG plots (ROC curves, robustness curves), and a few lines of inline JavaScript for sorting.
"""

from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path
from typing import Any

from .entries import DEFAULT_ROOT, Entry, LeaderboardError, is_ranked, load_entries

DATASET_NAMES = {
    "ffpp_raw": "FaceForensics++ raw (c0)", "ffpp_c23": "FaceForensics++ c23", "ffpp_c40": "FaceForensics++ c40",
    "celebdf_v2": "Celeb-DF v2", "celebdf_v1": "Celeb-DF v1", "dfd": "DeepFakeDetection (DFD)",
    "dfdc": "DFDC (full test set)", "dfdcp": "DFDC preview", "dfw": "WildDeepfake", "ffiw": "FFIW-10K",
    "faceshifter": "FaceShifter (FF++)", "deeperforensics": "DeeperForensics-1.0", "uadfv": "UADFV",
    "demo": "dfbench demo split",
}
DATASET_ORDER = ["demo", "ffpp_raw", "ffpp_c23", "ffpp_c40", "celebdf_v2", "celebdf_v1", "dfd", "dfdc", "dfdcp",
                 "dfw", "ffiw", "faceshifter", "deeperforensics", "uadfv"]
# (key, label, higher is better)
METRIC_COLUMNS = [("auc", "AUC", True), ("ap", "AP", True), ("eer", "EER", False), ("acc", "ACC", True)]
CORRUPTION_ORDER = ["saturation", "contrast", "block", "noise", "blur", "pixel", "compress"]
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22"]


# -- table model (shared by Markdown and HTML) -------------------------------------------------

def _groups(entries: list[Entry]) -> list[tuple[str, str, list[Entry]]]:
    by: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for e in entries:
        by[(e.data["dataset"], e.data["protocol"])].append(e)
    order = {d: i for i, d in enumerate(DATASET_ORDER)}
    keys = sorted(by, key=lambda k: (order.get(k[0], len(order)), k[0], k[1]))
    return [(d, p, sorted(by[(d, p)], key=_row_sort_key)) for d, p in keys]


def _level(e: Entry) -> str:
    return e.data["protocol_info"]["level"]


def _measured_metrics(e: Entry) -> dict[str, Any]:
    m = e.data.get("measured")
    if not m:
        return {}
    level = "frame" if _level(e) == "frame" else "video"
    return m["metrics"].get(level) or {}


def _headline(e: Entry) -> float:
    v = _measured_metrics(e).get("auc")
    if v is None:
        v = (e.data.get("reported") or {}).get("metrics", {}).get("auc")
    return -1.0 if v is None else float(v)


def _row_sort_key(e: Entry):
    # Unranked entries (subset runs, partial datasets, another protocol) are listed after every ranked one.
    return (not is_ranked(e.data), -_headline(e), e.data["detector_id"])


def _columns(rows: list[Entry]) -> list[tuple[str, str, bool]]:
    cols = []
    for key, label, up in METRIC_COLUMNS:
        if any(key in (r.data.get("reported") or {}).get("metrics", {}) or _measured_metrics(r).get(key) is not None
               for r in rows):
            cols.append((key, label, up))
    return cols


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.2f}"


def _rep_cell(e: Entry, key: str) -> tuple[str, float | None]:
    rep = e.data.get("reported")
    if not rep or key not in rep["metrics"]:
        return "", None
    v = rep["metrics"][key]
    return f"{_pct(v)} ({rep['confidence']})", v


def _meas_cell(e: Entry, key: str) -> tuple[str, float | None]:
    m = _measured_metrics(e)
    v = m.get(key)
    if v is None:
        return "", None
    ci = m.get(f"{key}_ci95")
    text = _pct(v) + (f" [{_pct(ci[0])}, {_pct(ci[1])}]" if ci and None not in ci else "")
    return text, v


def _counts(e: Entry) -> str:
    m = e.data.get("measured")
    if not m:
        return ""
    c = m["counts"]
    return f"{c.get('videos_scored_real', '?')}/{c.get('videos_scored_fake', '?')}"


def _speed(e: Entry) -> tuple[str, float | None]:
    t = (e.data.get("measured") or {}).get("throughput") or {}
    v = t.get("videos_per_s")
    if v is None:
        return "", None
    mfs = t.get("model_frames_per_s")
    unit = t.get("unit") or "frame"
    return f"{v:.2f}" + (f" ({mfs:.1f} {unit}s/s)" if mfs else ""), float(v)


# (label, higher is better) of the cost columns from `dfbench bench`; shown in tables where a row has a cost.
COST_COLUMNS = [("params (M)", False), ("GMACs", False), ("best model throughput", True), ("bench videos/s", True)]


def _cost(e: Entry) -> dict[str, Any] | None:
    return (e.data.get("measured") or {}).get("cost")


def _num(x: float) -> str:
    """Fixed formatting for figures spanning 1e-3 (toy variants) to 1e4 (frames/s)."""
    x = float(x)
    if x == 0:
        return "0"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def _cost_cells(e: Entry) -> list[tuple[str, float | None]]:
    """Params, GMACs per input (and per video), best throughput with its configuration, end-to-end videos/s."""
    c = _cost(e)
    if not c:
        return [("", None)] * len(COST_COLUMNS)
    unit = c["unit"]
    gmacs = f"{_num(c['gmacs'])}/{unit}" + (f" ({_num(c['gmacs_per_video'])}/video)" if c.get("gmacs_per_video") is not None else "")
    best = f"{_num(c['units_per_s'])} {unit}s/s ({c['best_config']})"
    v = c.get("videos_per_s")
    return [(_num(c["params"] / 1e6), c["params"] / 1e6), (gmacs, c["gmacs"]), (best, c["units_per_s"]),
            ("" if v is None else _num(v), v)]


def _cost_notes(rows: list[Entry]) -> list[str]:
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


def _source(e: Entry) -> str:
    rep = e.data.get("reported")
    parts = []
    if rep:
        parts.append(rep["source"])
    if e.data.get("measured"):
        m = e.data["measured"]
        sha = (m["weights"].get("sha256") or "")[:12]
        parts.append(f"dfbench {m['dfbench_version']}, protocol {m['protocol_hash'][:12]}" + (f", weights {sha}" if sha else ""))
    return "; ".join(parts)


def _title(dataset: str, protocol: str) -> str:
    """From the directory names, so every row of a table shares it (row details are in the table)."""
    level, _, train = protocol.partition("_train-")
    train_name = DATASET_NAMES.get(train.replace("-", "_"), train.replace("-", " "))
    return f"{DATASET_NAMES.get(dataset, dataset)} — {level.replace('_', ' ')} level, trained on {train_name or '?'}"


def _training(e: Entry) -> str:
    info = e.data["protocol_info"]
    return f"{info['train_set']}; selection: {info['checkpoint_selection']}"


def _footnotes(rows: list[Entry]) -> list[str]:
    notes = []
    for e in rows:
        text = e.data.get("footnote")
        rep = e.data.get("reported") or {}
        if rep.get("note"):
            text = f"{text} {rep['note']}".strip() if text else rep["note"]
        if text:
            notes.append(f"{e.data['detector_id']}: {text}")
    return notes


# -- Markdown --------------------------------------------------------------------------------

def render_markdown(entries: list[Entry]) -> str:
    groups = _groups(entries)
    n_rep = sum(1 for e in entries if e.data.get("reported"))
    n_meas = sum(1 for e in entries if e.data.get("measured"))
    out = [
        "# dfbench leaderboards", "",
        "<!-- Generated by `dfbench leaderboard render` from the JSON entries in this directory; do not edit. -->", "",
        f"{len(entries)} entries ({n_rep} with a reported number, {n_meas} measured by dfbench) in {len(groups)} tables. "
        "Open [index.html](index.html) for sortable tables, ROC and robustness curves.", "",
        "How to read: **reported** = the paper's or README's number (*reported, not reproduced here*), with its "
        "confidence tag (H: read in the source; M: from an issue thread or abstract; L: recalled from a paper table, "
        "verify before quoting). **measured** = dfbench's own run, with a 95 % bootstrap CI over videos. Values are "
        "percentages; ↑ higher is better, ↓ lower is better. Numbers in different tables were measured under different "
        "protocols and must not be compared. Flags: `oracle-selection` = checkpoint picked on the test set (an upper "
        "bound); `demo-data` = smoke test on the embedded demo split. Cost columns (params, GMACs per input, best "
        "model-only throughput with its precision/layout/batch, end-to-end videos/s) come from `dfbench bench` "
        "(`dfbench leaderboard add BENCH.json`) on the machine named under each table.", "",
        "## Tables", "",
    ]
    for d, p, rows in groups:
        out.append(f"- [{_title(d, p)}](#{_anchor(d, p)}) — `{d}/{p}`, {len(rows)} entries")
    out.append("")
    for d, p, rows in groups:
        cols = _columns(rows)
        out += [f'<a id="{_anchor(d, p)}"></a>', "", f"## {_title(d, p)}", "", f"Protocol `{d}/{p}`.", ""]
        head = ["detector"]
        for _, label, up in cols:
            arrow = "↑" if up else "↓"
            head += [f"{label} {arrow} reported", f"{label} {arrow} measured [95% CI]"]
        head += ["videos real/fake", "videos/s ↑"]
        costs = any(_cost(e) for e in rows)
        if costs:
            head += [f"{label} {'↑' if up else '↓'}" for label, up in COST_COLUMNS]
        head += ["training data; checkpoint selection", "flags", "source"]
        out += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        for e in rows:
            cells = [f"`{e.data['detector_id']}`" + ("" if is_ranked(e.data) else " (unranked)")]
            for key, _, _ in cols:
                cells += [_rep_cell(e, key)[0], _meas_cell(e, key)[0]]
            cells += [_counts(e), _speed(e)[0]]
            if costs:
                cells += [text for text, _ in _cost_cells(e)]
            cells += [_training(e), " ".join(f"`{f}`" for f in e.data["flags"]), _source(e)]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        notes = _footnotes(rows) + _cost_notes(rows)
        if notes:
            out += [""] + [f"- {n}" for n in notes]
        rob = _robustness_rows(rows)
        if rob:
            out += ["", "Robustness (video AUC per corruption type; `mean` = average over the 5 levels):", ""]
            types = sorted({t for _, _, r in rob for t in r}, key=_corr_order)
            out += ["| detector | " + " | ".join(types) + " |", "|---|" + "|".join("---" for _ in types) + "|"]
            for det, kind, r in rob:
                cells = [f"`{det}` ({kind})"]
                for t in types:
                    lv = r.get(t, {})
                    cells.append(", ".join(f"{k}: {_pct(v)}" for k, v in sorted(lv.items(), key=_level_key)))
                out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _anchor(d: str, p: str) -> str:
    return f"{d}--{p}".replace(".", "-")


def _corr_order(t: str):
    return (CORRUPTION_ORDER.index(t) if t in CORRUPTION_ORDER else len(CORRUPTION_ORDER), t)


def _level_key(item):
    k = item[0]
    return (1, 0) if k == "mean" else (0, int(k))


def _robustness_rows(rows: list[Entry]) -> list[tuple[str, str, dict]]:
    out = []
    for e in rows:
        for kind in ("reported", "measured"):
            r = (e.data.get(kind) or {}).get("robustness")
            if r:
                out.append((e.data["detector_id"], kind, r))
    return out


# -- HTML ------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1400px;padding:0 16px;color:#222}
h1{font-size:24px}h2{font-size:18px;margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;width:100%}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4;cursor:pointer;user-select:none;white-space:nowrap}th.sorted-asc::after{content:" ▲"}th.sorted-desc::after{content:" ▼"}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.rep{color:#555}
.flag{display:inline-block;background:#eee;border-radius:3px;padding:0 4px;margin:1px;font-size:12px}
.note{color:#555;font-size:13px}.plots{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:12px;color:#555}
svg text{font:11px system-ui,sans-serif}code{background:#f6f6f6;padding:0 3px}
"""

_JS = """
(function(){
  function key(td){var v=td.getAttribute('data-v');return v===null||v===''?null:parseFloat(v);}
  function text(td){return td.textContent.trim().toLowerCase();}
  document.querySelectorAll('table.board').forEach(function(table){
    var heads=table.querySelectorAll('thead th');
    heads.forEach(function(th,col){
      th.addEventListener('click',function(){
        var asc=!th.classList.contains('sorted-asc');
        heads.forEach(function(h){h.classList.remove('sorted-asc','sorted-desc');});
        th.classList.add(asc?'sorted-asc':'sorted-desc');
        var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
        var numeric=th.getAttribute('data-type')==='num';
        rows.sort(function(a,b){
          var x=a.cells[col],y=b.cells[col];
          if(numeric){var p=key(x),q=key(y);
            if(p===null&&q===null)return 0;if(p===null)return 1;if(q===null)return -1;
            return asc?p-q:q-p;}
          var s=text(x),t=text(y);return asc?(s<t?-1:s>t?1:0):(s<t?1:s>t?-1:0);
        });
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
})();
"""


def render_html(entries: list[Entry]) -> str:
    e_ = html.escape
    groups = _groups(entries)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">', "<title>dfbench leaderboards</title>", f"<style>{_CSS}</style></head><body>",
        "<h1>dfbench leaderboards</h1>",
        '<p class="note">Generated by <code>dfbench leaderboard render</code> from the JSON entries; do not edit. '
        "<b>Reported</b> = the paper's number (reported, not reproduced here; confidence H/M/L). <b>Measured</b> = "
        "dfbench's own run with a 95 % bootstrap CI over videos. Percentages; ↑ higher is better, ↓ lower is better. "
        "Cost columns (params, GMACs, best model-only throughput with its configuration, end-to-end videos/s) come "
        "from <code>dfbench bench</code> on the machine named under each table. "
        "Click a column header to sort. Tables measured under different protocols must not be compared.</p>",
        "<ul>",
    ]
    for d, p, _rows in groups:
        parts.append(f'<li><a href="#{_anchor(d, p)}">{e_(_title(d, p))}</a> <code>{e_(d)}/{e_(p)}</code></li>')
    parts.append("</ul>")
    for d, p, rows in groups:
        cols = _columns(rows)
        parts += [f'<section id="{_anchor(d, p)}">', f"<h2>{e_(_title(d, p))}</h2>",
                  f'<p class="note">Protocol <code>{e_(d)}/{e_(p)}</code>.</p>',
                  '<table class="board"><thead><tr><th data-type="text">detector</th>']
        for _, label, up in cols:
            arrow = "↑" if up else "↓"
            parts.append(f'<th data-type="num">{label} {arrow} reported</th><th data-type="num">{label} {arrow} measured [95% CI]</th>')
        costs = any(_cost(e) for e in rows)
        cost_heads = "".join(f'<th data-type="num" class="cost">{label} {"↑" if up else "↓"}</th>'
                             for label, up in COST_COLUMNS) if costs else ""
        parts.append('<th data-type="text">videos real/fake</th><th data-type="num">videos/s ↑</th>' + cost_heads
                     + '<th data-type="text">training data; checkpoint selection</th><th data-type="text">flags</th>'
                     '<th data-type="text">source</th></tr></thead><tbody>')
        for e in rows:
            cells = [f"<td><code>{e_(e.data['detector_id'])}</code>" + ("" if is_ranked(e.data) else " (unranked)")
                     + "</td>"]
            for key, _, _ in cols:
                for fn, cls in ((_rep_cell, "num rep"), (_meas_cell, "num")):
                    text, v = fn(e, key)
                    cells.append(f'<td class="{cls}" data-v="{"" if v is None else repr(round(float(v), 6))}">{e_(text)}</td>')
            stext, sv = _speed(e)
            cells += [f"<td>{e_(_counts(e))}</td>",
                      f'<td class="num" data-v="{"" if sv is None else repr(round(sv, 6))}">{e_(stext)}</td>']
            if costs:
                cells += [f'<td class="num cost" data-v="{_data_v(v)}">{e_(text)}</td>' for text, v in _cost_cells(e)]
            cells += [f"<td>{e_(_training(e))}</td>",
                      "<td>" + "".join(f'<span class="flag">{e_(f)}</span>' for f in e.data["flags"]) + "</td>",
                      f"<td>{_source_html(e)}</td>"]
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
        notes = _footnotes(rows) + [n.replace('`', '') for n in _cost_notes(rows)]
        if notes:
            parts.append('<ul class="note">' + "".join(f"<li>{e_(n)}</li>" for n in notes) + "</ul>")
        plots = _plots(d, p, rows)
        if plots:
            parts.append('<div class="plots">' + "".join(plots) + "</div>")
        parts.append("</section>")
    parts += [f"<script>{_JS}</script>", "</body></html>", ""]
    return "\n".join(parts)


def _data_v(v: float | None) -> str:
    """Sort key of a numeric cell; rounded so the page does not change with float noise."""
    return "" if v is None else repr(round(float(v), 6))


def _source_html(e: Entry) -> str:
    rep = e.data.get("reported") or {}
    text = html.escape(_source(e))
    if rep.get("url"):
        return f'<a href="{html.escape(rep["url"])}">{text}</a>'
    return text


def _plots(d: str, p: str, rows: list[Entry]) -> list[str]:
    out = []
    rocs = [(e.data["detector_id"], e.data["measured"]["roc"]) for e in rows if (e.data.get("measured") or {}).get("roc")]
    if rocs:
        out.append(_roc_svg(f"{d}/{p}", rocs))
    rob = _robustness_rows(rows)
    types = sorted({t for _, _, r in rob for t in r}, key=_corr_order)
    for t in types:
        series = [(f"{det} ({kind})", r[t]) for det, kind, r in rob if t in r]
        out.append(_robustness_svg(f"{d}/{p}", t, series))
    return out


def _xy(x: float, y: float, w: int, h: int, m: int) -> str:
    return f"{m + x * (w - 2 * m):.1f},{h - m - y * (h - 2 * m):.1f}"


def _axes(w: int, h: int, m: int, xlabel: str, ylabel: str, xticks: list[tuple[float, str]], yticks) -> list[str]:
    s = [f'<rect x="{m}" y="{m}" width="{w - 2 * m}" height="{h - 2 * m}" fill="none" stroke="#999"/>']
    for v, lab in xticks:
        x, y = _xy(v, 0, w, h, m).split(",")
        s.append(f'<text x="{x}" y="{float(y) + 14:.1f}" text-anchor="middle">{lab}</text>')
    for v, lab in yticks:
        x, y = _xy(0, v, w, h, m).split(",")
        s.append(f'<text x="{float(x) - 4:.1f}" y="{float(y) + 4:.1f}" text-anchor="end">{lab}</text>')
        s.append(f'<line x1="{m}" x2="{w - m}" y1="{y}" y2="{y}" stroke="#eee"/>')
    s.append(f'<text x="{w / 2:.0f}" y="{h - 6}" text-anchor="middle">{xlabel}</text>')
    s.append(f'<text x="12" y="{h / 2:.0f}" transform="rotate(-90 12 {h / 2:.0f})" text-anchor="middle">{ylabel}</text>')
    return s


def _legend(names: list[str], x: int, y: int) -> list[str]:
    s = []
    for i, n in enumerate(names):
        c = PALETTE[i % len(PALETTE)]
        s.append(f'<rect x="{x}" y="{y + 14 * i - 8}" width="10" height="3" fill="{c}"/>'
                 f'<text x="{x + 14}" y="{y + 14 * i - 4}">{html.escape(n)}</text>')
    return s


def _roc_svg(where: str, rocs: list[tuple[str, dict]]) -> str:
    w, h, m = 360, 320, 40
    ticks = [(i / 4, f"{i / 4:.2f}") for i in range(5)]
    s = [f'<figure><svg class="roc" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + 14 * len(rocs)}" '
         f'role="img" aria-label="ROC curves {html.escape(where)}">']
    s += _axes(w, h, m, "false positive rate", "true positive rate", ticks, ticks)
    s.append(f'<line x1="{_xy(0, 0, w, h, m).split(",")[0]}" y1="{_xy(0, 0, w, h, m).split(",")[1]}" '
             f'x2="{_xy(1, 1, w, h, m).split(",")[0]}" y2="{_xy(1, 1, w, h, m).split(",")[1]}" stroke="#ccc" stroke-dasharray="4 3"/>')
    for i, (_, roc) in enumerate(rocs):
        pts = " ".join(_xy(f, t, w, h, m) for f, t in zip(roc["fpr"], roc["tpr"], strict=True))
        s.append(f'<polyline class="curve" fill="none" stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="1.8" points="{pts}"/>')
    s += _legend([n for n, _ in rocs], m, h + 6)
    s.append("</svg>")
    s.append(f"<figcaption>Video-level ROC (measured), {html.escape(where)}</figcaption></figure>")
    return "".join(s)


def _robustness_svg(where: str, ctype: str, series: list[tuple[str, dict]]) -> str:
    w, h, m = 320, 260, 40
    levels = sorted({int(k) for _, r in series for k in r if k != "mean"} | {1, 5})
    lo, hi = min(levels), max(levels)
    span = max(hi - lo, 1)
    allv = [v for _, r in series for v in r.values()]
    ymin = min(0.5, min(allv) - 0.02)
    scale = lambda v: (v - ymin) / (1 - ymin)  # noqa: E731
    xt = [((lv - lo) / span, str(lv)) for lv in levels]
    yt = [(scale(v), f"{v:.2f}") for v in (ymin, (ymin + 1) / 2, 1.0)]
    s = [f'<figure><svg class="robustness" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + 14 * len(series)}" '
         f'role="img" aria-label="robustness {html.escape(ctype)} {html.escape(where)}">']
    s += _axes(w, h, m, f"{ctype} level", "video AUC", xt, yt)
    for i, (_, r) in enumerate(series):
        c = PALETTE[i % len(PALETTE)]
        pts = sorted((int(k), v) for k, v in r.items() if k != "mean")
        if pts:
            s.append(f'<polyline class="curve" fill="none" stroke="{c}" stroke-width="1.8" points="'
                     + " ".join(_xy((lv - lo) / span, scale(v), w, h, m) for lv, v in pts) + '"/>')
            s += [f'<circle cx="{_xy((lv - lo) / span, scale(v), w, h, m).split(",")[0]}" '
                  f'cy="{_xy((lv - lo) / span, scale(v), w, h, m).split(",")[1]}" r="2.5" fill="{c}"/>' for lv, v in pts]
        if "mean" in r:  # only the average over levels is known: a dashed level line
            a, b = _xy(0, scale(r["mean"]), w, h, m), _xy(1, scale(r["mean"]), w, h, m)
            s.append(f'<line class="curve" x1="{a.split(",")[0]}" y1="{a.split(",")[1]}" x2="{b.split(",")[0]}" '
                     f'y2="{b.split(",")[1]}" stroke="{c}" stroke-dasharray="5 3" stroke-width="1.5"/>')
    s += _legend([n for n, _ in series], m, h + 6)
    s.append("</svg>")
    s.append(f"<figcaption>Robustness to {html.escape(ctype)} (dashed: mean over levels only), "
             f"{html.escape(where)}</figcaption></figure>")
    return "".join(s)


# -- files -----------------------------------------------------------------------------------

def rendered_pages(root: str | Path = DEFAULT_ROOT) -> dict[str, str]:
    entries = load_entries(root)
    return {"README.md": render_markdown(entries), "index.html": render_html(entries)}


def render_tree(root: str | Path = DEFAULT_ROOT, check: bool = False) -> list[Path]:
    """Write README.md and index.html under ``root``; with ``check`` only compare and raise if stale."""
    from ..fileio import atomic_write_bytes

    root = Path(root)
    pages = rendered_pages(root)
    stale, written = [], []
    for name, text in pages.items():
        path = root / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
            continue
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic_write_bytes(path, text.encode("utf-8"))
        written.append(path)
    if stale:
        raise LeaderboardError(f"stale leaderboard page(s): {', '.join(map(str, stale))} differ from a fresh render of "
                               f"the JSON entries; run `dfbench leaderboard render` and commit the result")
    return written

