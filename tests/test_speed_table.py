"""scripts/speed_table.py: README's speed table from one pytest-benchmark JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "speed_table.py"


@pytest.fixture(scope="module")
def st():
    spec = importlib.util.spec_from_file_location("speed_table", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _doc():
    return {"datetime": "2026-12-05T06:00:00", "machine_info": {"cpu": {"brand_raw": "Test CPU"}},
            "benchmarks": [
                {"fullname": "plugins/laanet/tests/bench_fastpath.py::test_model_stage_throughput[auto-flip_on]",
                 "stats": {"min": 0.5, "median": 0.8, "max": 1.0}, "extra_info": {}},
                {"fullname": "tests/bench_contention.py::test_demo_evaluation_beside_a_competitor[spin-passive]",
                 "stats": {"min": 3, "median": 3, "max": 3}, "extra_info": {"slowdown_wall": 1.734}},
                {"fullname": "tests/bench_media.py::test_face_pipeline_per_video[dlib_align]",
                 "stats": {"min": 1.0, "median": 2.0, "max": 4.0}, "extra_info": {}},
            ]}


def test_rates_are_min_median_max_over_rounds(st):
    out = st.table(_doc())
    assert "| LAA-Net 384, batch 8, flip on, default flags (auto) | 8 | 10 | 16 | img/s | — |" in out
    assert "| face pipeline, 10-s 640x360 video, 32 frames, 1 process | 15 | 30 | 60 | videos/min | — |" in out
    assert "| demo evaluation beside a spinning core: slowdown |  | 1.73 |  | x | — |" in out
    assert "Test CPU" in out


def test_missing_benchmarks_are_marked_and_anchors_only_from_the_user(st):
    label = "LAA-Net 384, batch 8, flip on, --precision fp32"
    out = st.table(_doc(), {label: "0.54 img/s (official float64 + flip)"})
    assert f"| {label} | | not measured | | | 0.54 img/s (official float64 + flip) |" in out
    assert "this project's model in float64, all heads (NOT the official code)" in out


def test_readme_block_is_replaced_in_place(st, tmp_path):
    bench = tmp_path / "latest.json"
    bench.write_text(json.dumps(_doc()))
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{st.START}\nold table\n{st.END}\n\nafter\n")
    assert st.main([str(bench), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# x\n\n") and text.endswith("\n\nafter\n")
    assert text.count(st.START) == 1 and "| 8 | 10 | 16 | img/s |" in text
    readme.write_text("no markers")
    with pytest.raises(SystemExit, match="speed-table:start"):
        st.main([str(bench), "--readme", str(readme)])
