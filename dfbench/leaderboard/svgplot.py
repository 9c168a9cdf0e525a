"""Interactive SVG charts for the leaderboard page: ROC curves and robustness small multiples.

Why hand-made SVG rather than Plotly or Vega-Lite: ``index.html`` is a tracked file that
``render --check`` compares byte for byte, and it must work offline. Plotly would inline ~3.5 MB of
JavaScript (Vega + Vega-Lite + vega-embed ~0.8 MB) into every render and every diff, for two chart
kinds. A small SVG writer gives deterministic output, exact control of label placement (the browser
test asserts that no two text boxes overlap) and needs ~40 lines of JavaScript for what the page
needs: HTML legends whose buttons toggle a series in every panel and highlight it on hover, and
native ``<title>`` tooltips on every point and curve.

Layout rules that keep labels apart: y tick labels sit in a fixed left gutter right-aligned 6 px
from the axis, the rotated y title sits at the far left of the gutter, x tick labels sit in a band
below each panel and the x title in its own band below that; legends are HTML beside the SVG, never
inside it. Small multiples share one y axis (ticks only in the first column).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22"]
FONT = 11  # px, matches the page CSS for svg text


@dataclass
class Series:
    """One toggleable series: ``points`` per panel, ``(x, y)`` pairs; ``flat`` per panel: a level line."""

    name: str
    dashed: bool = False
    points: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    flat: dict[str, float] = field(default_factory=dict)  # panel -> y known only as an average: a level line
    reference: float | None = None  # drawn in every panel as a dotted line (e.g. the clean AUC)
    detail: str = ""  # appended to the legend text and tooltips


def _esc(s: str) -> str:
    return html.escape(s, quote=True)


def _f(x: float) -> str:
    return f"{x:.1f}"


def _legend(fig_id: str, series: Sequence[Series], column: bool = False) -> str:
    items = []
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        style = "dashed" if s.dashed else "solid"
        label = s.name + (f" {s.detail}" if s.detail else "")
        items.append(f'<button type="button" class="lg" data-s="{k}" aria-pressed="true" title="click: hide/show; '
                     f'hover: highlight">'
                     f'<span class="sw" style="border-top:2px {style} {colour}"></span>{_esc(label)}</button>')
    cls = "legend col" if column else "legend"
    return f'<div class="{cls}" data-fig="{fig_id}">' + "".join(items) + "</div>"


def _pct_ticks(lo: float, hi: float) -> list[float]:
    span = hi - lo
    step = 0.05 if span <= 0.25 else 0.1 if span <= 0.55 else 0.25
    first = math.ceil(lo / step - 1e-9) * step
    out, v = [], first
    while v <= hi + 1e-9:
        out.append(round(v, 4))
        v += step
    return out


def roc_figure(fig_id: str, curves: Sequence[Series], caption: str, *, x_title: str = "false positive rate",
               y_title: str = "true positive rate", diagonal: bool = True) -> str:
    """One unit-square panel of curves (ROC by default, with a chance diagonal; also PR curves)."""
    ml, mr, mt, mb, pw, ph = 52, 12, 10, 44, 260, 260
    w, h = ml + pw + mr, mt + ph + mb

    def xy(x: float, y: float) -> tuple[str, str]:
        return _f(ml + x * pw), _f(mt + (1 - y) * ph)

    s = [f'<svg class="chart roc" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
         f'aria-label="{_esc(caption)}" xmlns="http://www.w3.org/2000/svg">']
    ticks = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    for t in ticks:
        x, y = xy(t, t)
        s.append(f'<line class="grid" x1="{ml}" x2="{ml + pw}" y1="{y}" y2="{y}"/>')
        s.append(f'<line class="grid" x1="{x}" x2="{x}" y1="{mt}" y2="{mt + ph}"/>')
        s.append(f'<text class="tick" x="{ml - 6}" y="{_f(float(y) + 4)}" text-anchor="end">{t:.1f}</text>')
        s.append(f'<text class="tick" x="{x}" y="{mt + ph + 18}" text-anchor="middle">{t:.1f}</text>')
    s.append(f'<rect class="frame" x="{ml}" y="{mt}" width="{pw}" height="{ph}"/>')
    if diagonal:
        x0, y0 = xy(0, 0)
        x1, y1 = xy(1, 1)
        s.append(f'<line class="chance" x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}"><title>chance</title></line>')
    for k, c in enumerate(curves):
        pts = c.points.get("roc", [])
        colour = PALETTE[k % len(PALETTE)]
        coords = " ".join(",".join(xy(fx, ty)) for fx, ty in pts)
        tip = _esc(c.name + (f" {c.detail}" if c.detail else ""))
        s.append(f'<g class="s" data-s="{k}"><polyline class="curve" fill="none" stroke="{colour}" '
                 f'points="{coords}"/><polyline class="hit" fill="none" points="{coords}"><title>{tip}</title>'
                 f'</polyline></g>')
    s.append(f'<text class="atitle" x="{_f(ml + pw / 2)}" y="{h - 8}" text-anchor="middle">{_esc(x_title)}</text>')
    cy = mt + ph / 2
    s.append(f'<text class="atitle" x="14" y="{_f(cy)}" transform="rotate(-90 14 {_f(cy)})" '
             f'text-anchor="middle">{_esc(y_title)}</text>')
    s.append("</svg>")
    # Legend to the right of the square plot (a column of buttons), caption under both.
    return (f'<figure class="fig roc-fig" id="{fig_id}"><div class="roc-row">' + "".join(s)
            + f'{_legend(fig_id, curves, column=True)}</div><figcaption style="max-width:{w + 280}px">'
            f"{_esc(caption)}</figcaption></figure>")


def small_multiples(fig_id: str, panels: Sequence[str], series: Sequence[Series], *, x_levels: Sequence[int],
                    x_title: str, y_title: str, caption: str, cols: int = 7) -> str:
    """One panel per name in ``panels`` (AUC vs level), a shared y axis in percent, toggleable series."""
    ml, mr, pw, ph, gap = 56, 10, 168, 128, 14
    title_h, tick_h, xt_h = 20, 20, 24
    cols = max(1, min(cols if len(panels) <= cols else 4, len(panels)))
    rows = math.ceil(len(panels) / cols)
    w = ml + cols * pw + (cols - 1) * gap + mr
    row_h = title_h + ph + tick_h
    h = rows * row_h + xt_h
    values = [y for s in series for pts in s.points.values() for _, y in pts]
    values += [y for s in series for y in s.flat.values()] + [s.reference for s in series if s.reference is not None]
    lo = min([0.5] + values)
    lo = math.floor(lo * 20) / 20  # to 5 points
    hi = 1.0
    lvl_lo, lvl_hi = min(x_levels), max(x_levels)
    span = max(lvl_hi - lvl_lo, 1)

    def px(col: int, level: float) -> float:
        return ml + col * (pw + gap) + 8 + (level - lvl_lo) / span * (pw - 16)

    def py(row: int, v: float) -> float:
        return row * row_h + title_h + (hi - v) / (hi - lo) * ph

    s = [f'<svg class="chart robustness" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
         f'aria-label="{_esc(caption)}" xmlns="http://www.w3.org/2000/svg">']
    yt = _pct_ticks(lo, hi)
    for i, name in enumerate(panels):
        r, c = divmod(i, cols)
        left, top = ml + c * (pw + gap), r * row_h + title_h
        for v in yt:
            y = _f(py(r, v))
            s.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{y}" y2="{y}"/>')
            if c == 0:
                s.append(f'<text class="tick" x="{ml - 6}" y="{_f(py(r, v) + 4)}" text-anchor="end">'
                         f'{100 * v:.0f}</text>')
        s.append(f'<rect class="frame" x="{left}" y="{top}" width="{pw}" height="{ph}"/>')
        s.append(f'<text class="ptitle" x="{_f(left + pw / 2)}" y="{top - 6}" text-anchor="middle">{_esc(name)}</text>')
        for lv in x_levels:
            s.append(f'<text class="tick" x="{_f(px(c, lv))}" y="{top + ph + 16}" text-anchor="middle">{lv}</text>')
        for k, ser in enumerate(series):
            colour = PALETTE[k % len(PALETTE)]
            dash = ' stroke-dasharray="6 3"' if ser.dashed else ""
            g = [f'<g class="s" data-s="{k}">']
            if ser.reference is not None:
                y = _f(py(r, ser.reference))
                g.append(f'<line class="ref" x1="{left}" x2="{left + pw}" y1="{y}" y2="{y}" stroke="{colour}">'
                         f'<title>{_esc(ser.name)}: clean AUC {100 * ser.reference:.1f}</title></line>')
            if name in ser.flat:
                v = ser.flat[name]
                y = _f(py(r, v))
                g.append(f'<line class="curve" x1="{_f(px(c, lvl_lo))}" x2="{_f(px(c, lvl_hi))}" y1="{y}" y2="{y}" '
                         f'stroke="{colour}"{dash}><title>{_esc(ser.name)}, {_esc(name)}: mean AUC over levels '
                         f'{100 * v:.1f}</title></line>')
            pts = sorted(ser.points.get(name, []))
            if pts:
                coords = " ".join(f"{_f(px(c, lv))},{_f(py(r, v))}" for lv, v in pts)
                g.append(f'<polyline class="curve" fill="none" stroke="{colour}"{dash} points="{coords}"/>')
                for lv, v in pts:
                    g.append(f'<circle cx="{_f(px(c, lv))}" cy="{_f(py(r, v))}" r="3.2" fill="{colour}">'
                             f'<title>{_esc(ser.name)}, {_esc(name)} level {lv:g}: AUC {100 * v:.1f}</title></circle>')
            g.append("</g>")
            if len(g) > 2:
                s += g
    s.append(f'<text class="atitle" x="{_f(ml + (w - ml - mr) / 2)}" y="{h - 7}" text-anchor="middle">'
             f'{_esc(x_title)}</text>')
    cy = rows * row_h / 2
    s.append(f'<text class="atitle" x="14" y="{_f(cy)}" transform="rotate(-90 14 {_f(cy)})" '
             f'text-anchor="middle">{_esc(y_title)}</text>')
    s.append("</svg>")
    return (f'<figure class="fig wide" id="{fig_id}" style="width:{w}px">{_legend(fig_id, series)}' + "".join(s)
            + f"<figcaption>{_esc(caption)}</figcaption></figure>")


CHART_CSS = """
.fig{margin:0;max-width:100%}.fig svg{max-width:100%;height:auto;display:block}
svg text{font:11px system-ui,-apple-system,Segoe UI,Roboto,sans-serif;fill:#333}svg text.atitle{font-weight:600}
svg text.ptitle{font-weight:600;font-size:12px}
svg .grid{stroke:#eee}svg .frame{fill:none;stroke:#999}svg .chance{stroke:#bbb;stroke-dasharray:4 3}
svg .curve{stroke-width:2}svg .hit{stroke:transparent;stroke-width:9}svg .ref{stroke-dasharray:2 3;stroke-width:1.4;opacity:.7}
svg .s{transition:opacity .1s}.fig.hl svg .s{opacity:.15}.fig.hl svg .s.on{opacity:1}.fig svg .s.off{display:none}
.legend{display:flex;flex-wrap:wrap;gap:2px 6px;margin:4px 0 6px;max-width:100%}
.lg{font:12px system-ui,sans-serif;border:1px solid #ddd;border-radius:3px;background:#fff;padding:1px 6px;cursor:pointer;
display:inline-flex;align-items:center;gap:5px;color:#222}.lg[aria-pressed=false]{opacity:.4;text-decoration:line-through}
.legend.col{flex-direction:column;align-items:flex-start;max-width:280px;margin:0 0 0 8px}
.roc-row{display:flex;align-items:flex-start}.fig.wide{max-width:100%}
.lg .sw{display:inline-block;width:18px;height:0}
figcaption{font-size:12px;color:#555;max-width:60em}
"""

CHART_JS = """
document.querySelectorAll('.legend').forEach(function(lg){
  var fig=document.getElementById(lg.getAttribute('data-fig'));
  function parts(k){return fig.querySelectorAll('svg .s[data-s="'+k+'"]');}
  lg.querySelectorAll('.lg').forEach(function(b){
    var k=b.getAttribute('data-s');
    b.addEventListener('click',function(){
      var on=b.getAttribute('aria-pressed')!=='true';b.setAttribute('aria-pressed',on?'true':'false');
      parts(k).forEach(function(p){p.classList.toggle('off',!on);});});
    b.addEventListener('mouseenter',function(){fig.classList.add('hl');parts(k).forEach(function(p){p.classList.add('on');});});
    b.addEventListener('mouseleave',function(){fig.classList.remove('hl');parts(k).forEach(function(p){p.classList.remove('on');});});
  });
});
"""
