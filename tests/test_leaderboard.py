"""Leaderboard entries: the committed boards validate and are freshly rendered; add/validate/render."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dfbench.testing import build_synthetic_dataset

REPO = Path(__file__).resolve().parents[1]
BOARDS = REPO / "leaderboards"
TESTING = "dfbench.testing:TESTING_PLUGIN"


def _cli(*args):
    from dfbench.cli import cli

    return CliRunner().invoke(cli, list(args))


# -- the committed boards ----------------------------------------------------------------------

def test_committed_entries_validate():
    r = _cli("leaderboard", "validate", "--root", str(BOARDS))
    assert r.exit_code == 0, r.output
    assert "entries valid" in r.output


def test_committed_pages_are_fresh():
    r = _cli("leaderboard", "render", "--check", "--root", str(BOARDS))
    assert r.exit_code == 0, r.output + "\n(run `dfbench leaderboard render` and commit README.md/index.html)"


def _reported(path: str) -> dict:
    data = json.loads((BOARDS / path).read_text())
    assert data["reported"]["status"] == "reported, not reproduced here"
    assert data["reported"]["source"] and data["reported"]["confidence"] in "HML"
    return data


@pytest.mark.parametrize("tag,ds,auc,ap", [
    ("bi", "celebdf_v2", 0.8628, 0.9193), ("bi", "dfw", 0.5713, 0.5689), ("bi", "dfd", 0.9951, 0.9980),
    ("bi", "dfdc", 0.6969, 0.9367), ("sbi", "celebdf_v2", 0.9540, 0.9764), ("sbi", "dfw", 0.8003, 0.8108),
    ("sbi", "dfd", 0.9843, 0.9940), ("sbi", "dfdc", 0.8694, 0.9770), ("sbi", "ffpp_raw", 0.9996, None),
    ("bi", "ffpp_raw", 0.9995, None),
])
def test_laanet_reported_numbers_are_seeded(tag, ds, auc, ap):
    e = _reported(f"{ds}/video_train-ffpp-raw/laanet_efnb4.official_{tag}.json")
    assert e["reported"]["metrics"]["auc"] == pytest.approx(auc)
    assert e["reported"]["metrics"].get("ap") == (pytest.approx(ap) if ap else None)
    assert e["protocol_info"]["level"] == "video" and "raw" in e["protocol_info"]["train_set"]
    assert "reported-not-reproduced" in e["flags"]


def test_other_reported_families_are_seeded():
    sbi = _reported("celebdf_v2/video_train-ffpp-raw/sbi_efnb4.official.json")
    assert sbi["reported"]["metrics"]["auc"] == pytest.approx(0.9382)
    lf = _reported("celebdf_v2/video_train-ffpp-c23/lipforensics_r18.official.json")
    assert lf["reported"]["metrics"]["auc"] == pytest.approx(0.824)
    rob = _reported("ffpp_c23/video_train-ffpp-c23/lipforensics_r18.official.json")["reported"]["robustness"]
    assert set(rob) == {"saturation", "contrast", "block", "noise", "blur", "pixel", "compress"}
    recce = _reported("celebdf_v2/frame_train-ffpp-c40/recce.official.json")
    assert recce["reported"]["metrics"] == {"auc": pytest.approx(0.6871), "eer": pytest.approx(0.3573)}
    dfb = sorted(p.stem for p in BOARDS.glob("celebdf_v2/frame_train-ffpp-c23/*.dfb.json"))
    assert len(dfb) == 15 and "xception.dfb" in dfb
    x = _reported("celebdf_v2/frame_train-ffpp-c23/xception.dfb.json")
    assert x["reported"]["metrics"]["auc"] == pytest.approx(0.7365) and "oracle-selection" in x["flags"]
    for f in BOARDS.glob("*/*/*.json"):  # every confidence-L number is flagged for verification
        e = json.loads(f.read_text())
        if (e.get("reported") or {}).get("confidence") == "L":
            assert "unverified-number" in e["flags"], f


def test_pages_show_reported_beside_measured_with_sources():
    md = (BOARDS / "README.md").read_text()
    # Compact tables: reported-only tables carry no empty "measured" columns; a CI only on measured values.
    assert "| # | detector | AUC reported ↑ | AP ↑ | flags |" in md and "EER ↓" in md
    assert "| # | detector | AUC measured ↑ [95% CI] | AP ↑ | videos | EER ↓ | ACC ↑ | flags |" in md  # demo
    assert "| 1 | `laanet_efnb4.official_sbi` | 95.40 (H) | 97.64 (rep.) |" in md
    assert "EER ↓ [95% CI]" not in md and "pixelation" in md and "| pixel |" not in md
    assert "LAA-Net README" in md and "DeepfakeBench README" in md
    page = (BOARDS / "index.html").read_text()
    assert page.count('<table class="board">') == md.count("\n## ") - 1  # one table per section
    assert "<script>" in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


# -- add / validate / render on a scratch tree -------------------------------------------------

@pytest.fixture(scope="module")
def run_result(tmp_path_factory):
    from dfbench.registry import get_registry
    from dfbench.runner import evaluate

    mp = pytest.MonkeyPatch()
    mp.setenv("DFBENCH_EXTRA_PLUGINS", TESTING)
    shared = tmp_path_factory.getbasetemp() / "h9-shared"  # same data and crop cache as test_compare.py
    mp.setenv("DFBENCH_CACHE", str(shared / "cache"))
    reg = get_registry(refresh=True)
    data = shared / "data"
    if not (data / "manifest.json").exists():
        build_synthetic_dataset(data, n_real=4, n_fake=4, n_frames=6)
    out = tmp_path_factory.mktemp("lbrun") / "oracle"
    res = evaluate("oracle", "synthetic", data_root=data, output=out, progress=False, registry=reg)
    yield {k: v for k, v in res.items() if k != "output_dir"}, out
    mp.undo()
    get_registry(refresh=True)


def test_add_creates_a_measured_entry_and_is_idempotent(run_result, tmp_path):
    from dfbench.leaderboard import add_result, load_entries

    res, run_dir = run_result
    root = tmp_path / "boards"
    path = add_result(res, root, trained_on="synthetic train")
    assert path == root / "synthetic" / "video_train-synthetic-train" / "oracle.json"
    e = json.loads(path.read_text())
    m = e["measured"]
    assert m["metrics"]["video"]["auc"] == pytest.approx(1.0) and len(m["metrics"]["video"]["auc_ci95"]) == 2
    assert m["protocol_hash"] == res["protocol_hash"] and m["dfbench_version"] == res["env"]["dfbench"]
    assert m["weights"]["sha256"] == res["detector"]["weights_sha256"]
    assert m["hardware"]["cpu"] and m["throughput"]["videos_per_s"] > 0 and m["roc"]["tpr"][-1] == 1.0
    assert m["counts"]["videos_scored"] == 8 and "reported-not-reproduced" not in e["flags"]
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert set(p.name for p in before) >= {"README.md", "index.html", "oracle.json"}
    add_result(res, root, trained_on="synthetic train")
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before  # no timestamps, stable order
    assert len(load_entries(root)) == 1


def test_measured_sits_beside_reported_and_robustness_attaches(run_result, tmp_path):
    from dfbench.leaderboard import add_result, write_entry
    from dfbench.leaderboard.entries import load_entries
    from dfbench.leaderboard.render import render_html, render_markdown

    res, _ = run_result
    root = tmp_path / "boards"
    write_entry(root, {"schema_version": 1, "detector_id": "oracle", "detector": {"name": "Oracle"},
                       "dataset": "synthetic", "protocol": "video_train-none",
                       "protocol_info": {"level": "video", "train_set": "none", "checkpoint_selection": "none"},
                       "reported": {"status": "reported, not reproduced here", "source": "by construction",
                                    "confidence": "H", "metrics": {"auc": 1.0}},
                       "flags": ["reported-not-reproduced"]})
    add_result(res, root, protocol="video_train-none")
    corrupted = copy.deepcopy(res)
    corrupted["corruption"] = {"name": "saturation", "level": 3, "seed": 0, "applied_to": "full frames"}
    corrupted["metrics"]["video"]["auc"] = 0.75
    add_result(corrupted, root, protocol="video_train-none")
    (e,) = load_entries(root)
    assert e.data["reported"]["metrics"]["auc"] == 1.0 and e.data["measured"]["metrics"]["video"]["auc"] == 1.0
    assert e.data["flags"] == [] and e.data["measured"]["robustness"] == {"saturation": {"3": 0.75}}
    md = render_markdown([e])
    assert "| 1 | `oracle` | 100.00 [100.00, 100.00] | 100.00 (H) | +0.00 |" in md and "saturation" in md
    page = render_html([e])
    assert 'class="chart roc"' in page and 'class="chart robustness"' in page
    # A clean re-run keeps the robustness points.
    add_result(res, root, protocol="video_train-none")
    assert load_entries(root)[0].data["measured"]["robustness"] == {"saturation": {"3": 0.75}}


def test_corrupted_run_needs_the_clean_entry(run_result, tmp_path):
    from dfbench.leaderboard import LeaderboardError, add_result

    corrupted = copy.deepcopy(run_result[0])
    corrupted["corruption"] = {"name": "blur", "level": 1}
    with pytest.raises(LeaderboardError, match="clean run"):
        add_result(corrupted, tmp_path / "b", trained_on="x")


def test_cli_add_then_check_detects_stale_pages(run_result, tmp_path):
    _, run_dir = run_result
    root = tmp_path / "boards"
    r = _cli("leaderboard", "add", str(run_dir / "results.json"), "--root", str(root), "--trained-on", "synthetic")
    assert r.exit_code == 0, r.output
    assert _cli("leaderboard", "validate", "--root", str(root)).exit_code == 0
    assert _cli("leaderboard", "render", "--check", "--root", str(root)).exit_code == 0
    (entry,) = root.glob("*/*/*.json")
    data = json.loads(entry.read_text())
    data["footnote"] = "edited by hand"
    entry.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    r = _cli("leaderboard", "render", "--check", "--root", str(root))
    assert r.exit_code == 1 and "stale" in r.output and "dfbench leaderboard render" in r.output
    assert _cli("leaderboard", "render", "--root", str(root)).exit_code == 0
    assert _cli("leaderboard", "render", "--check", "--root", str(root)).exit_code == 0


@pytest.mark.parametrize("mutate,message", [
    (lambda e: e["reported"]["metrics"].update(auc="95.4"), "is not of type 'number'"),
    (lambda e: e["reported"]["metrics"].update(auc=95.4), "greater than the maximum"),
    (lambda e: e.update(flags=["different-preprocessing"]), "reported-not-reproduced"),
    (lambda e: e["reported"].update(confidence="L"), "unverified-number"),
    (lambda e: e["reported"].pop("source"), "'source' is a required property"),
    (lambda e: e.update(flags=e["flags"] + ["made-up"]), "is not one of"),
    (lambda e: e.update(detector_id="other"), "wrong place"),
])
def test_validate_rejects_bad_entries(tmp_path, mutate, message):
    root = tmp_path / "boards"
    src = "celebdf_v2/video_train-ffpp-raw/laanet_efnb4.official_sbi.json"
    (root / src).parent.mkdir(parents=True)
    e = json.loads((BOARDS / src).read_text())
    mutate(e)
    (root / src).write_text(json.dumps(e, indent=2, sort_keys=True) + "\n")
    r = _cli("leaderboard", "validate", "--root", str(root))
    assert r.exit_code == 1 and message in r.output, r.output


def test_validate_rejects_misplaced_and_non_canonical_files(tmp_path):
    root = tmp_path / "boards"
    src = "celebdf_v2/video_train-ffpp-raw/laanet_efnb4.official_sbi.json"
    (root / src).parent.mkdir(parents=True)
    e = json.loads((BOARDS / src).read_text())
    (root / src).write_text(json.dumps(e))  # valid, but not canonical
    (root / "stray.json").write_text("{}")
    r = _cli("leaderboard", "validate", "--root", str(root))
    assert r.exit_code == 1 and "canonical" in r.output and "misplaced" in r.output


def test_render_is_deterministic(tmp_path):
    from dfbench.leaderboard import render_tree

    root = tmp_path / "boards"
    shutil.copytree(BOARDS, root)
    for page in ("README.md", "index.html"):
        (root / page).unlink()
    render_tree(root)
    for page in ("README.md", "index.html"):
        assert (root / page).read_bytes() == (BOARDS / page).read_bytes()


# -- cost from `dfbench bench` -----------------------------------------------------------------

@pytest.fixture(scope="module")
def bench_result(run_result, tmp_path_factory):
    """A real `dfbench bench` document of the oracle (tiny iteration counts, end to end on a short video)."""
    from dfbench.bench import bench_detector
    from dfbench.media.synthetic import face_frames, write_video

    video = write_video(tmp_path_factory.mktemp("lbbench") / "talking.mp4", face_frames(12, 320, 240, seed=1),
                        codec="h264")
    res = bench_detector("oracle", batch_size=2, precisions=["fp32"], channels_last=(False,), iters=1, warmup=0,
                         latency_iters=2, video=video)
    return json.loads(json.dumps(res, default=str))  # exactly what `dfbench bench --output` writes


def _other_detector(entry: dict, det_id: str) -> dict:
    e = copy.deepcopy(entry)
    e["detector_id"], e["detector"] = det_id, {"name": det_id}
    return e


def test_bench_cost_joins_every_measured_entry_and_both_pages(run_result, bench_result, tmp_path):
    from dfbench.leaderboard import add_bench, add_result, load_entries, validate_tree, write_entry

    res, _ = run_result
    root = tmp_path / "boards"
    oracle = add_result(res, root, trained_on="synthetic train")
    tagged = add_result(res, root, detector_id="oracle.demo", protocol="video_train-other")
    other = write_entry(root, _other_detector(json.loads(oracle.read_text()), "constant"))
    write_entry(root, {"schema_version": 1, "detector_id": "oracle.paper", "detector": {"name": "Oracle"},
                       "dataset": "synthetic", "protocol": "video_train-none",
                       "protocol_info": {"level": "video", "train_set": "none", "checkpoint_selection": "none"},
                       "reported": {"status": "reported, not reproduced here", "source": "by construction",
                                    "confidence": "H", "metrics": {"auc": 1.0}},
                       "flags": ["reported-not-reproduced"]})
    written = add_bench(bench_result, root)
    # The untagged bench id covers its tagged entries (weights do not change the cost), nothing else.
    assert sorted(written) == sorted([oracle, tagged])
    s, env = bench_result["summary"], bench_result["env"]
    assert s["videos_per_s"] > 0 and s["units_per_s"] > 0
    for path in (oracle, tagged):
        cost = json.loads(path.read_text())["measured"]["cost"]
        assert cost["params"] == bench_result["params"] and cost["gmacs"] == pytest.approx(bench_result["gmacs"])
        assert cost["units_per_s"] == s["units_per_s"] and cost["best_config"] == s["best_config"] == "fp32 @ batch 2"
        assert cost["videos_per_s"] == s["videos_per_s"] and cost["unit"] == "frame"
        assert cost["hardware"] == {k: env[k] for k in ("cpu", "platform", "threads", "torch", "device", "python")}
        assert cost["e2e_video"] == "talking.mp4" and cost["benchmarked_id"] == "oracle"
        assert not any(k in json.dumps(cost) for k in ("date", "time"))
    assert "cost" not in json.loads(other.read_text())["measured"]
    assert not any("cost" in (e.data.get("measured") or {}) for e in load_entries(root)
                   if e.data["detector_id"] in ("constant", "oracle.paper"))
    assert validate_tree(root) == (4, [])

    md = (root / "README.md").read_text()
    assert "| params (M) ↓ | GMACs ↓ | best model throughput ↑ | bench videos/s ↑ |" in md
    (row,) = [line for line in md.splitlines() if "| `oracle` |" in line]
    assert f"frames/s ({s['best_config']})" in row and "/frame (0/video)" in row, row
    assert f"torch {env['torch']}" in md and "talking.mp4" in md
    (const_row,) = [line for line in md.splitlines() if "| `constant` |" in line]
    assert "@ batch" not in const_row and "|  |  |  |  |" in const_row  # no cost: four empty cells
    assert "- `constant` — training data: synthetic train;" in md  # the prose lives under the table
    page = (root / "index.html").read_text()
    # Cost columns sit behind the column picker (hidden by default) and sort by their raw value.
    assert '<th class="num c-opt c-best" title="from `dfbench bench`">best model throughput ↑</th>' in page
    assert '<input type="checkbox" value="best">' in page and ".c-opt{display:none}" in page
    for key, v in (("best", s["units_per_s"]), ("bench_vps", s["videos_per_s"])):
        assert f'<td class="num c-opt c-{key}" data-t="num" data-v="{round(v, 6)!r}"' in page
    assert f"frames/s<span class=\"sub\">{s['best_config']}</span>" in page and f"torch {env['torch']}" in page

    # Adding the same bench twice changes no byte; render --check agrees with the pages.
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    add_bench(bench_result, root)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert _cli("leaderboard", "render", "--check", "--root", str(root)).exit_code == 0


def test_cost_survives_a_rerun_and_reaches_new_entries(run_result, bench_result, tmp_path):
    from dfbench.leaderboard import add_bench, add_result

    res, _ = run_result
    root = tmp_path / "boards"
    path = add_result(res, root, trained_on="synthetic train")
    add_bench(bench_result, root)
    cost = json.loads(path.read_text())["measured"]["cost"]
    rerun = copy.deepcopy(res)
    rerun["metrics"]["video"]["auc"] = 0.99
    rerun["metrics"]["video"]["auc_ci95"] = [0.98, 1.0]
    add_result(rerun, root, trained_on="synthetic train")
    m = json.loads(path.read_text())["measured"]
    assert m["metrics"]["video"]["auc"] == 0.99 and m["cost"] == cost
    # The same detector on another protocol/dataset shows the cost already known for it.
    new = add_result(res, root, protocol="video_train-elsewhere")
    assert json.loads(new.read_text())["measured"]["cost"] == cost
    tagged = add_result(res, root, detector_id="oracle.v2", protocol="video_train-elsewhere")
    assert json.loads(tagged.read_text())["measured"]["cost"] == cost


def test_tagged_bench_covers_only_its_own_entry(run_result, bench_result, tmp_path):
    from dfbench.leaderboard import add_bench, add_result

    res, _ = run_result
    root = tmp_path / "boards"
    plain = add_result(res, root, trained_on="synthetic train")
    tagged = add_result(res, root, detector_id="oracle.demo", trained_on="synthetic train")
    assert add_bench(bench_result, root, detector_id="oracle.demo") == [tagged]
    assert "cost" not in json.loads(plain.read_text())["measured"]


def test_bench_without_a_measured_entry_is_refused(bench_result, tmp_path):
    from dfbench.leaderboard import LeaderboardError, add_bench, write_entry

    root = tmp_path / "boards"
    write_entry(root, {"schema_version": 1, "detector_id": "oracle.paper", "detector": {"name": "Oracle"},
                       "dataset": "synthetic", "protocol": "video_train-none",
                       "protocol_info": {"level": "video", "train_set": "none", "checkpoint_selection": "none"},
                       "reported": {"status": "reported, not reproduced here", "source": "by construction",
                                    "confidence": "H", "metrics": {"auc": 1.0}},
                       "flags": ["reported-not-reproduced"]})
    with pytest.raises(LeaderboardError, match=r"no measured leaderboard entry for 'oracle'.*oracle\.paper.*"
                                               r"dfbench leaderboard add RUN/results.json"):
        add_bench(bench_result, root)
    with pytest.raises(LeaderboardError, match="not a `dfbench bench` JSON"):
        add_bench({"metrics": {}}, root)


def test_cli_add_detects_bench_files_among_results(run_result, bench_result, tmp_path):
    _, run_dir = run_result
    root = tmp_path / "boards"
    single, several = tmp_path / "bench.json", tmp_path / "bench_all.json"
    single.write_text(json.dumps(bench_result, indent=2))
    several.write_text(json.dumps([bench_result, bench_result]))  # `dfbench bench -d a -d b` writes a list
    # Bench files first on the command line: the runs are still added before the cost attaches.
    r = _cli("leaderboard", "add", str(several), str(single), str(run_dir / "results.json"), "--root", str(root),
             "--trained-on", "synthetic")
    assert r.exit_code == 0, r.output
    assert "cost from" in r.output and "rendered" in r.output
    (entry,) = root.glob("*/*/*.json")
    assert json.loads(entry.read_text())["measured"]["cost"]["best_config"] == bench_result["summary"]["best_config"]
    assert "best model throughput" in (root / "README.md").read_text()
    assert _cli("leaderboard", "validate", "--root", str(root)).exit_code == 0
    assert _cli("leaderboard", "render", "--check", "--root", str(root)).exit_code == 0
    lone = tmp_path / "lone"
    r = _cli("leaderboard", "add", str(single), "--root", str(lone))
    assert r.exit_code == 1 and "no measured leaderboard entry" in r.output


@pytest.mark.parametrize("mutate,message", [
    (lambda c: c.update(gmacs="4.6"), "is not of type 'number'"),
    (lambda c: c.update(units_per_s=0), "less than or equal to the minimum"),
    (lambda c: c["hardware"].pop("torch"), "'torch' is a required property"),
    (lambda c: c.update(measured_at="2024-01-01"), "Additional properties are not allowed"),
    (lambda c: c.update(unit="video"), "is not one of"),
])
def test_schema_rejects_bad_cost(run_result, bench_result, mutate, message):
    from dfbench.leaderboard import cost_block, validate_entry
    from dfbench.leaderboard.entries import measured_block

    res, _ = run_result
    entry = {"schema_version": 1, "detector_id": "oracle", "detector": {"name": "Oracle"}, "dataset": "synthetic",
             "protocol": "video_train-none", "flags": [],
             "protocol_info": {"level": "video", "train_set": "none", "checkpoint_selection": "none"},
             "measured": measured_block(res) | {"cost": cost_block(bench_result)}}
    assert validate_entry(entry) == []
    mutate(entry["measured"]["cost"])
    errs = validate_entry(entry)
    assert any(message in e and e.startswith("measured/cost") for e in errs), errs


def test_unranked_entries_get_no_rank_and_sort_last_with_a_badge():
    """`ranked: false` (partial or subset runs, from the trust report) keeps a row visible but out of the ranking."""
    from dfbench.leaderboard import Entry
    from dfbench.leaderboard.render import render_html, render_markdown

    def entry(det_id, auc, **extra):
        return Entry(Path(f"demo/video_train-x/{det_id}.json"), {
            "schema_version": 1, "detector_id": det_id, "detector": {"name": det_id}, "dataset": "demo",
            "protocol": "video_train-x", "flags": ["demo-data"], **extra,
            "protocol_info": {"level": "video", "train_set": "x", "checkpoint_selection": "last"},
            "measured": {"status": "measured by dfbench", "protocol_hash": "0" * 16, "dfbench_version": "0.1.0",
                         "metrics": {"video": {"auc": auc}}, "counts": {"videos_scored": 4},
                         "weights": {"sha256": None}}})

    rows = [entry("partial", 0.99, ranked=False), entry("b", 0.7), entry("a", 0.8)]
    md = render_markdown(rows)
    lines = [line for line in md.splitlines() if line.startswith("| ") and "`" in line]
    assert [line.split(" | ")[:2] for line in lines] == [["| 1", "`a`"], ["| 2", "`b`"], ["| —", "`partial`"]]
    assert "`unranked`" in lines[-1] and "CI" in md.split("\n| # |")[1].split("\n")[0]  # header names the CI
    page = render_html(rows)
    assert page.index(">partial<") > page.index(">b<") and 'class="entry unranked"' in page
    assert page.count("flag unranked") == 1
