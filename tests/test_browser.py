"""The HTML leaderboard in a real headless Chromium: no console errors, sorting works, plots exist.

Uses Debian's ``chromium`` through Playwright (``executable_path``; never ``playwright install``).
Without a browser the test is skipped with the reason shown, never silently.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

BOARDS = Path(__file__).resolve().parents[1] / "leaderboards"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium not found: apt-get install chromium")


@pytest.fixture
def page_with_measured(tmp_path):
    """The committed boards plus one measured entry with a ROC curve and robustness points."""
    from dfbench.leaderboard import render_tree, write_entry

    root = tmp_path / "boards"
    shutil.copytree(BOARDS, root)
    write_entry(root, {
        "schema_version": 1, "detector_id": "oracle.demo", "detector": {"name": "oracle"}, "dataset": "demo",
        "protocol": "video_train-demo", "flags": ["demo-data"],
        "protocol_info": {"level": "video", "train_set": "demo", "checkpoint_selection": "last epoch"},
        "measured": {"status": "measured by dfbench", "protocol_hash": "0123456789abcdef", "dfbench_version": "0.1.0",
                     "metrics": {"video": {"auc": 0.9, "auc_ci95": [0.8, 0.97], "ap": 0.91}},
                     "roc": {"fpr": [0, 0.1, 1], "tpr": [0, 0.8, 1]}, "counts": {"videos_scored": 10},
                     "weights": {"sha256": "ab" * 32, "trained": True},
                     "throughput": {"videos_per_s": 1.5, "model_frames_per_s": 20.0},
                     "robustness": {"saturation": {"1": 0.88, "3": 0.8, "5": 0.7}}},
    })
    render_tree(root)
    return root / "index.html"


def test_leaderboard_page_in_headless_chromium(page_with_measured, tmp_path):
    exe = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install playwright")
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        # A persistent context is how Playwright takes a fresh user-data dir (it refuses the flag).
        browser = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=exe, args=FLAGS,
                                                       headless=True)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_with_measured.as_uri())
            page.wait_for_load_state("load")
            assert page.title() == "dfbench leaderboards"

            # The DeepfakeBench Celeb-DF v2 table: 15 rows; sort by "AUC reported" both ways.
            table = page.locator("#celebdf_v2--frame_train-ffpp-c23 table.board")
            header = table.locator("thead th", has_text="AUC ↑ reported")

            def column(i: int) -> list[str]:
                return table.locator(f"tbody tr td:nth-child({i + 1})").all_inner_texts()

            idx = table.locator("thead th").all_inner_texts().index(header.inner_text())
            before = column(0)
            header.click()
            asc = [float(v.split()[0]) for v in column(idx)]
            assert asc == sorted(asc) and len(asc) == 15
            header.click()
            desc = [float(v.split()[0]) for v in column(idx)]
            assert desc == sorted(desc, reverse=True)
            assert column(0) != before or asc != desc  # rows really moved
            names = table.locator("thead th").first
            names.click()
            ids = column(0)
            assert ids == sorted(ids, key=str.lower)

            assert page.locator("svg.roc polyline.curve").count() >= 1
            assert page.locator("svg.robustness").count() >= 7  # the reported DF-1.0 types + the measured one
            assert page.locator("#demo--video_train-demo svg.robustness polyline.curve").count() == 1
            assert page.locator("td", has_text="1.50 (20.0 frames/s)").count() == 1  # throughput column
        finally:
            browser.close()
    assert errors == [], errors
