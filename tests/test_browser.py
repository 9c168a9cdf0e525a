"""The HTML leaderboard in a real headless Chromium, looked at the way a reader would.

At 1280 and 1920 px: no horizontal overflow, no console errors, no two text boxes of a chart
overlapping (axis titles, tick labels, panel titles, legends), sorting and both filters work, the
column picker and a details row open. Screenshots go to ``$DFBENCH_SCREENSHOTS`` (default
``.screenshots/leaderboard`` in the checkout) so a person can look at them after ``make test``.

Uses Debian's ``chromium`` through Playwright (``executable_path``; never ``playwright install``).
Without a browser the test is skipped with the reason shown, never silently.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BOARDS = REPO / "leaderboards"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WIDTHS = (1280, 1920)

pytestmark = pytest.mark.browser

# Every pair of text boxes (SVG text + HTML legend buttons) inside one figure, intersecting by > 0.5 px.
OVERLAPS_JS = """
() => {
  const out = [];
  document.querySelectorAll('figure.fig').forEach(fig => {
    if (!fig.offsetParent) return;
    const boxes = [];
    fig.querySelectorAll('svg text, .legend .lg').forEach(el => {
      const r = el.getBoundingClientRect();
      if (r.width && r.height) boxes.push([el.textContent.trim(), r]);
    });
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i][1], b = boxes[j][1];
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 0.5 && h > 0.5) out.push(fig.id + ': "' + boxes[i][0] + '" / "' + boxes[j][0] + '"');
    }
  });
  return out;
}
"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium not found: apt-get install chromium")


def _shots_dir() -> Path:
    d = Path(os.environ.get("DFBENCH_SCREENSHOTS", REPO / ".screenshots" / "leaderboard"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
def page_with_measured(tmp_path):
    """The committed boards plus one measured entry with a ROC curve and robustness points, and an
    unranked partial run."""
    from dfbench.leaderboard import Entry, load_entries, render_html, write_entry

    root = tmp_path / "boards"
    shutil.copytree(BOARDS, root)
    base = {
        "schema_version": 1, "detector": {"name": "oracle"}, "dataset": "demo",
        "protocol": "video_train-demo-train", "flags": ["demo-data"],
        "protocol_info": {"level": "video", "train_set": "demo", "checkpoint_selection": "last epoch"},
    }
    measured = {"status": "measured by dfbench", "protocol_hash": "0123456789abcdef", "dfbench_version": "0.1.0",
                "metrics": {"video": {"auc": 0.9, "auc_ci95": [0.8, 0.97], "ap": 0.91}},
                "roc": {"fpr": [0, 0.1, 1], "tpr": [0, 0.8, 1]}, "counts": {"videos_scored": 10},
                "weights": {"sha256": "ab" * 32, "trained": True},
                "throughput": {"videos_per_s": 1.5, "model_frames_per_s": 20.0},
                "robustness": {"saturation": {"1": 0.88, "3": 0.8, "5": 0.7}, "pixelation": {"2": 0.85, "4": 0.6}}}
    write_entry(root, {**base, "detector_id": "oracle.demo", "measured": measured})
    # `ranked: false` comes from the trust report (subset or partial runs); rendered whether or not the
    # schema of this checkout knows the field yet, so the entry is handed to the renderer directly.
    partial = {**base, "detector_id": "oracle.partial", "ranked": False,
               "measured": {**measured, "metrics": {"video": {"auc": 0.99}}}}
    entries = load_entries(root) + [Entry(root / "demo" / "video_train-demo-train" / "oracle.partial.json", partial)]
    page = root / "index.html"
    page.write_text(render_html(entries), encoding="utf-8")
    return page


def test_leaderboard_page_in_headless_chromium(page_with_measured, tmp_path):
    exe = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install playwright")
    shots = _shots_dir()
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        # A persistent context is how Playwright takes a fresh user-data dir (it refuses the flag).
        browser = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=exe, args=FLAGS,
                                                       headless=True, viewport={"width": WIDTHS[0], "height": 900})
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_with_measured.as_uri())
            page.wait_for_load_state("load")
            assert page.title() == "dfbench leaderboards"

            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 1000})
                overflow = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                assert overflow[0] <= overflow[1], f"horizontal overflow at {width} px: {overflow}"
                assert page.evaluate(OVERLAPS_JS) == [], f"overlapping chart labels at {width} px"
                page.screenshot(path=str(shots / f"top-{width}.png"))
                page.locator("#demo--video_train-demo-train").scroll_into_view_if_needed()
                page.locator("#demo--video_train-demo-train").screenshot(path=str(shots / f"demo-{width}.png"))
                page.locator("#ffpp_c23--video_train-ffpp-c23").screenshot(path=str(shots / f"ffpp_c23-{width}.png"))
                page.locator("#celebdf_v2--frame_train-ffpp-c23").screenshot(
                    path=str(shots / f"celebdf_v2-dfb-{width}.png"))

            # Sorting: the DeepfakeBench Celeb-DF v2 table, 15 rows, by "AUC reported" both ways.
            table = page.locator("#celebdf_v2--frame_train-ffpp-c23 table.board")
            header = table.locator("thead th", has_text="AUC reported")
            idx = table.locator("thead th").all_inner_texts().index(header.inner_text())

            def column(i: int) -> list[str]:
                return table.locator(f"tbody.entry > tr:first-child > td:nth-child({i + 1})").all_inner_texts()

            def values(i: int) -> list[float]:  # the cell's sort key: its number without CI or tag
                cells = table.locator(f"tbody.entry > tr:first-child > td:nth-child({i + 1})")
                return [float(c.get_attribute("data-v")) for c in cells.all()]

            before = column(1)
            header.click()
            asc = values(idx)
            assert [f"{100 * v:.2f}" for v in asc] == [re.match(r"[\d.]+", t).group() for t in column(idx)]
            assert asc == sorted(asc) and len(asc) == 15
            header.click()
            desc = values(idx)
            assert desc == sorted(desc, reverse=True)
            assert column(1) != before or asc != desc  # rows really moved
            table.locator("thead th", has_text="detector").click()
            ids = [t.strip(" ▸▾") for t in column(1)]
            assert ids == sorted(ids, key=str.lower)

            # Ranking: the unranked partial run has the higher AUC but no rank and comes last, greyed.
            demo = page.locator("#demo--video_train-demo-train table.board")
            last = demo.locator("tbody.entry").last
            assert "oracle.partial" in last.inner_text() and "unranked" in (last.get_attribute("class") or "")
            assert last.locator("td.rank").inner_text() == "—"
            assert demo.locator("tbody.entry").first.locator("td.rank").inner_text() == "1"

            # Flags are badges with a tooltip; a details row opens.
            badge = page.locator("#celebdf_v2--frame_train-ffpp-c23 .flag", has_text="oracle-selection").first
            assert "test set" in badge.get_attribute("title")
            first = table.locator("tbody.entry").first
            assert first.locator("tr.more").is_hidden()
            first.locator(".more-btn").click()
            assert first.locator("tr.more").is_visible() and "checkpoint selection" in first.locator("tr.more").inner_text()
            first.screenshot(path=str(shots / "details-open.png"))

            # Filters: "measured here" leaves only tables with a measured row; training data narrows to one set.
            n_all = page.locator("section.board-section:visible").count()
            page.select_option("#f-kind", "measured")
            visible = page.locator("section.board-section:visible")
            assert 0 < visible.count() < n_all
            assert page.locator("tbody.entry:visible[data-kind=reported]").count() == 0
            page.select_option("#f-kind", "reported")
            assert page.locator("#demo--video_train-demo-train").is_hidden()
            page.select_option("#f-kind", "all")
            page.select_option("#f-train", "ffpp-raw")
            secs = page.locator("section.board-section:visible")
            assert secs.count() >= 1 and all(s.get_attribute("data-train") == "ffpp-raw" for s in secs.all())
            page.select_option("#f-train", "all")
            assert page.locator("section.board-section:visible").count() == n_all

            # Optional columns are hidden until picked.
            eer = page.locator("#celebdf_v2--frame_train-ffpp-c40 th.c-eer")
            assert eer.is_hidden()
            page.locator(".bar summary").click()
            page.locator(".picker input[value=eer]").check()
            assert eer.is_visible()
            for box in page.locator(".picker input").all():  # every optional column at once
                box.check()
            page.set_viewport_size({"width": WIDTHS[0], "height": 1000})
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            page.locator("#demo--video_train-demo-train").screenshot(path=str(shots / "demo-all-columns-1280.png"))

            # Charts: curves toggle from the legend; corruption names are the CLI's.
            rob = page.locator("#rob-demo--video_train-demo-train")
            assert rob.locator("text.ptitle").all_text_contents() == ["saturation", "pixelation"]
            curve = rob.locator("svg .s[data-s='0']").first
            assert curve.is_visible()
            rob.locator(".lg[data-s='0']").click()
            assert curve.is_hidden()
            rob.locator(".lg[data-s='0']").click()
            assert curve.is_visible()
            titles = page.locator("#rob-ffpp_c23--video_train-ffpp-c23 text.ptitle").all_text_contents()
            assert "pixelation" in titles and "compression" in titles and "pixel" not in titles
            assert page.locator("svg.roc polyline.curve").count() >= 1
            assert page.locator("td", has_text="1.50").count() >= 1  # throughput column
        finally:
            browser.close()
    assert errors == [], errors
    assert {f"{kind}-{w}.png" for kind in ("top", "demo") for w in WIDTHS} <= {p.name for p in shots.glob("*.png")}


def test_robustness_and_comparison_pages_in_headless_chromium(tmp_path):
    """The figures module's pages (`dfbench figures`, `dfbench compare`): no overlap, no overflow, no errors."""
    exe = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install playwright")
    from dfbench.figures import comparison_html, robustness_html

    levels = {str(k): 1 - 0.05 * k for k in range(1, 6)}
    doc = {"detector": {"id": "oracle"}, "clean_auc": 0.99,
           "robustness": {t: levels for t in ("saturation", "contrast", "block", "noise", "blur", "pixel", "compress")}}
    pages = [robustness_html(doc, tmp_path / "robustness.html", "oracle on demo/test"),
             comparison_html([{"label": f"run{i}", "roc": ([0, 0.1 * i, 1], [0, 0.8, 1]),
                               "pr": ([0, 0.5, 1], [1, 0.9, 0.5]), "auc": 0.9, "ap": 0.8} for i in range(3)],
                             tmp_path / "comparison.html")]
    shots = _shots_dir()
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=exe, args=FLAGS,
                                                       headless=True, viewport={"width": WIDTHS[0], "height": 900})
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            for path in pages:
                page.goto(path.as_uri())
                for width in WIDTHS:
                    page.set_viewport_size({"width": width, "height": 900})
                    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path.name
                    assert page.evaluate(OVERLAPS_JS) == [], f"{path.name} at {width} px"
                    page.screenshot(path=str(shots / f"{path.stem}-{width}.png"), full_page=True)
            assert page.locator("svg.chart").count() == 2  # comparison: ROC and PR
        finally:
            browser.close()
    assert errors == [], errors
