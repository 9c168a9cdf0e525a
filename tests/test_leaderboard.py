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
    assert "AUC ↑ reported | AUC ↑ measured [95% CI]" in md and "EER ↓ reported" in md
    assert "| `laanet_efnb4.official_sbi` | 95.40 (H) |" in md
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
    assert "| `oracle` | 100.00 (H) | 100.00 [100.00, 100.00] |" in md and "saturation" in md
    page = render_html([e])
    assert 'class="roc"' in page and 'class="robustness"' in page
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
