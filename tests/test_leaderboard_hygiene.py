"""Leaderboard hygiene: subset runs never replace full entries, flagged entries are unranked,
robustness points need the clean protocol, concurrent writers lose nothing, imports go one way."""

from __future__ import annotations

import ast
import copy
import json
import multiprocessing as mp
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _results(n=24, indexed=24, subset=None, auc=0.9, det_id="someone_elses.v1", allow_partial=False,
             frames=32) -> dict:
    """A results.json as `dfbench run` writes it (only the fields the leaderboard reads)."""
    from dfbench.runner import protocol_hash

    protocol = {"dataset": {"id": "demo", "version": "1", "split": "test", "items_sha256": "ab" * 32,
                            "options": {}, "subset": subset},
                "detector": {"id": det_id, "weights_sha256": "cd" * 32},
                "input": {"frames_per_video": frames, "aggregation": "mean_logit", "flip_test": False,
                          "cropper": "dlib_align", "size": 64, "clip_length": 1},
                "frames": {"unit": "frame", "frames_per_video": frames}, "cropper": {"name": "dlib_align"},
                "corruption": None, "aggregation": "mean_logit", "flip_test": False, "missing_face": "skip",
                "precision": "fp32", "checkpoint_selection": None}
    return {
        "detector": {"id": det_id, "trained": True, "weights_tag": "v1", "weights_sha256": "cd" * 32,
                     "weights_source": "x"},
        "dataset": {"id": "demo", "split": "test", "version": "1", "videos_indexed": indexed,
                    "count_warnings": [], "allow_partial": allow_partial},
        "corruption": None, "protocol": protocol, "protocol_hash": protocol_hash(protocol),
        "metrics": {"video": {"auc": auc, "auc_ci95": [auc - 0.05, min(1.0, auc + 0.05)], "ap": auc,
                              "n_real": n // 2, "n_fake": n - n // 2}, "frame": {"auc": auc}},
        "counts": {"videos": n, "videos_scored": n, "videos_scored_real": n // 2, "videos_scored_fake": n - n // 2,
                   "videos_failed": 0, "frames": n * 8},
        "env": {"dfbench": "0.test", "cpu": "cpu", "threads": 1, "torch": "2", "device": "cpu"},
        "throughput": {"videos_per_s": 1.0},
    }


def _corrupted(res: dict, auc: float = 0.7) -> dict:
    from dfbench.runner import protocol_hash

    out = copy.deepcopy(res)
    out["corruption"] = out["protocol"]["corruption"] = {"name": "saturation", "level": 2, "seed": 0,
                                                         "applied_to": "full frames before face detection"}
    out["protocol_hash"] = protocol_hash(out["protocol"])
    out["metrics"]["video"]["auc"] = auc
    return out


def _bench(det_id="someone_elses") -> dict:
    return {"summary": {"params_m": 1.0, "best_config": "fp32 b8", "units_per_s": 100.0, "videos_per_s": 2.0},
            "params": 1_000_000, "gmacs": 0.5, "throughput": [{"batch_size": 8}], "input": {"unit": "frame"},
            "detector": {"id": det_id},
            "env": {"cpu": "test cpu", "threads": 2, "torch": "2.x", "device": "cpu", "dfbench": "0.test"}}


def test_subset_run_never_replaces_a_full_split_entry(tmp_path):
    from dfbench.leaderboard import LeaderboardError, add_result

    root = tmp_path / "boards"
    path = add_result(_results(auc=0.8), root, render=False)
    quick = _results(n=2, subset={"limit": 2, "limit_percent": None, "seed": 0}, auc=1.0)
    with pytest.raises(LeaderboardError, match=r"2 of 24 videos \(--limit 2\).*full-split entry.*Refusing"):
        add_result(quick, root, render=False)
    assert json.loads(path.read_text())["measured"]["metrics"]["video"]["auc"] == 0.8


def test_subset_entries_are_flagged_unranked_and_listed_last(tmp_path):
    from dfbench.leaderboard import add_result, load_entries, render_markdown

    root = tmp_path / "boards"
    quick = _results(n=2, subset={"limit": 2, "limit_percent": None, "seed": 0}, auc=1.0, det_id="quick.v1")
    e = json.loads(add_result(quick, root, render=False).read_text())
    assert "subset" in e["flags"] and e["ranked"] is False and "2 of 24" in e["flag_reasons"]["subset"]
    full = json.loads(add_result(_results(auc=0.6, det_id="full.v1"), root, render=False).read_text())
    assert full["ranked"] is True and full["flags"] == ["demo-data"]
    partial = json.loads(add_result(_results(auc=0.7, det_id="partial.v1", allow_partial=True), root,
                                    render=False).read_text())
    assert "partial-dataset" in partial["flags"] and partial["ranked"] is False
    md = render_markdown(load_entries(root))
    # Table rows start with the rank column ("—" for an unranked entry), then the detector id.
    rows = [line for line in md.splitlines() if re.match(r"\| (\d+|—) \| `", line)]
    assert len(rows) == 3
    # The AUC-1.0 subset run sits below the AUC-0.6 full run: it is not ranked.
    assert rows[0].startswith("| 1 | `full.v1` |")
    assert all(r.startswith("| — | ") and "`unranked`" in r for r in rows[1:])
    # A full run later replaces the subset entry and is ranked again.
    again = json.loads(add_result(_results(auc=0.9, det_id="quick.v1"), root, render=False).read_text())
    assert again["ranked"] is True and "subset" not in again["flags"] and "flag_reasons" not in again


def test_limit_percent_subset_is_detected_from_counts_too(tmp_path):
    from dfbench.leaderboard import add_result

    res = _results(n=12, indexed=24, subset={"limit": None, "limit_percent": 50.0, "seed": 0})
    e = json.loads(add_result(res, tmp_path, render=False).read_text())
    assert "--limit-percent 50.0" in e["flag_reasons"]["subset"]
    bare = _results(n=12, indexed=24, det_id="bare.v1")  # older results.json without the subset record
    assert "subset" in json.loads(add_result(bare, tmp_path, render=False).read_text())["flags"]


def test_a_run_off_the_detectors_own_protocol_is_flagged(tmp_path):
    from dfbench.leaderboard import add_result
    from dfbench.registry import get_registry

    own = get_registry().resolve_detector("laanet_test").variant.input
    res = _results(det_id="laanet_test", frames=own.frames_per_video)
    res["protocol"]["input"].update(size=own.size, cropper=own.cropper, flip_test=own.flip_test,
                                    aggregation=own.aggregation, clip_length=own.clip_length)
    res["protocol"]["cropper"]["name"] = own.cropper
    e = json.loads(add_result(res, tmp_path, render=False).read_text())
    assert "other-protocol" not in e["flags"] and e["ranked"] is True
    res["protocol"]["input"]["frames_per_video"] = own.frames_per_video + 3
    e = json.loads(add_result(res, tmp_path, render=False).read_text())
    assert "other-protocol" in e["flags"] and e["ranked"] is False
    assert f"frames_per_video {own.frames_per_video + 3}" in e["flag_reasons"]["other-protocol"]
    e = json.loads(add_result(res, tmp_path, render=False, rank=True).read_text())
    assert e["ranked"] is True  # an explicit --rank wins


def test_robustness_needs_the_clean_protocol_of_the_entry(tmp_path):
    from dfbench.leaderboard import LeaderboardError, add_result

    res = _results()
    path = add_result(res, tmp_path, render=False)
    add_result(_corrupted(res), tmp_path, render=False)
    assert json.loads(path.read_text())["measured"]["robustness"] == {"saturation": {"2": 0.7}}
    other = _results(frames=8)  # the corruption grid ran with other settings than the clean entry
    with pytest.raises(LeaderboardError, match="clean protocol .* differs from the entry's"):
        add_result(_corrupted(other, auc=0.1), tmp_path, render=False)
    assert json.loads(path.read_text())["measured"]["robustness"] == {"saturation": {"2": 0.7}}


def _on_machine(res: dict, torch: str, index: str) -> dict:
    """``res`` as `dfbench run` writes it on a machine with this torch version and dataset copy:
    the full hash pins both, the core hash neither."""
    from dfbench.runner import protocol_core_hash, protocol_hash

    out = copy.deepcopy(res)
    out["protocol"]["software"] = {"dfbench": "0.test", "torch": torch}
    out["protocol"]["dataset"]["index_sha256"] = index
    out["protocol_hash"] = protocol_hash(out["protocol"])
    out["protocol_core_hash"] = protocol_core_hash(out["protocol"])
    return out


def test_robustness_from_another_machine_compares_the_core_protocol(tmp_path):
    from dfbench.leaderboard import LeaderboardError, add_result, validate_tree

    clean = _on_machine(_results(), torch="2.4", index="aa" * 32)
    path = add_result(clean, tmp_path, render=False)
    entry = json.loads(path.read_text())
    assert entry["measured"]["protocol_core_hash"] == clean["protocol_core_hash"]
    # The same protocol on another machine (other torch, another copy of the files): the full hashes
    # differ, the core hashes agree, so the robustness point belongs to the entry.
    there = _corrupted(_on_machine(_results(), torch="2.5", index="bb" * 32))
    assert there["protocol_hash"] != clean["protocol_hash"]
    add_result(there, tmp_path, render=False)
    assert json.loads(path.read_text())["measured"]["robustness"] == {"saturation": {"2": 0.7}}
    # Another evaluation protocol is still refused, whatever the machine.
    with pytest.raises(LeaderboardError, match="clean protocol .* differs from the entry's"):
        add_result(_corrupted(_on_machine(_results(frames=8), torch="2.4", index="aa" * 32), auc=0.1),
                   tmp_path, render=False)
    # A clean re-run elsewhere keeps the attached robustness points (same core protocol).
    again = json.loads(add_result(_on_machine(_results(auc=0.91), torch="2.6", index="cc" * 32), tmp_path,
                                  render=False).read_text())
    assert again["measured"]["robustness"] == {"saturation": {"2": 0.7}}
    assert validate_tree(tmp_path)[1] == []


def test_entries_without_a_core_hash_compare_the_full_hash(tmp_path):
    from dfbench.leaderboard import LeaderboardError, add_result

    clean = _on_machine(_results(), torch="2.4", index="aa" * 32)
    path = add_result(clean, tmp_path, render=False)
    old = json.loads(path.read_text())
    del old["measured"]["protocol_core_hash"]  # an entry written before the core hash existed
    path.write_text(json.dumps(old))
    with pytest.raises(LeaderboardError, match="clean protocol .* differs from the entry's"):
        add_result(_corrupted(_on_machine(_results(), torch="2.5", index="bb" * 32)), tmp_path, render=False)
    add_result(_corrupted(clean), tmp_path, render=False)
    assert json.loads(path.read_text())["measured"]["robustness"] == {"saturation": {"2": 0.7}}


def _slow_checks(delay: float) -> None:
    """Widen the read-modify-write window of a leaderboard update (entry validation runs between
    reading the old entry and writing the new one), as a slow disk would."""
    import time

    import dfbench.leaderboard.entries as E

    orig = E.check_entry

    def slow(*a, **kw):
        time.sleep(delay)
        return orig(*a, **kw)

    E.check_entry = slow


def _worker(kind: str, root: str, doc, barrier) -> None:
    from dfbench.leaderboard import add_bench, add_result

    _slow_checks(0.05)
    barrier.wait()
    if kind == "result":
        add_result(doc, root, render=True)
    else:
        add_bench(doc, root, render=True)


def test_concurrent_results_and_bench_never_lose_an_update(tmp_path):
    from dfbench.leaderboard import add_result, validate_tree

    ctx = mp.get_context("fork")
    for round_ in range(3):
        root = tmp_path / f"round{round_}"
        path = add_result(_results(auc=0.5), root, render=False)
        new = _results(auc=0.95)
        jobs = [("result", new), ("bench", _bench()), ("result", new), ("bench", _bench())]
        barrier = ctx.Barrier(len(jobs))
        procs = [ctx.Process(target=_worker, args=(k, str(root), d, barrier)) for k, d in jobs]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        assert [p.exitcode for p in procs] == [0] * len(procs)
        entry = json.loads(path.read_text())
        assert entry["measured"]["metrics"]["video"]["auc"] == 0.95, f"round {round_}: results update lost"
        assert entry["measured"]["cost"]["best_config"] == "fp32 b8", f"round {round_}: bench cost lost"
        assert not [p for p in root.rglob("*") if ".tmp" in p.name]  # no half-written leftovers
        n, problems = validate_tree(root)
        assert n == 1 and problems == []


def _imports(path: Path) -> set[str]:
    mods = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            mods.add(node.module or "")
    return mods


def test_leaderboard_modules_import_one_way():
    pkg = ROOT / "dfbench" / "leaderboard"
    assert "render" not in _imports(pkg / "entries.py") and "cost" not in _imports(pkg / "entries.py")
    assert "update" not in _imports(pkg / "entries.py")
    assert not {"render", "update", "cli"} & _imports(pkg / "cost.py")
    assert not {"cost", "update", "cli"} & _imports(pkg / "render.py")


def test_a_broken_entry_file_is_named(tmp_path):
    from dfbench.leaderboard import LeaderboardError, add_result

    path = add_result(_results(), tmp_path, render=False)
    path.write_text('{"detector_id": ')
    with pytest.raises(LeaderboardError, match=f"{path} is not valid JSON"):
        add_result(_results(), tmp_path, render=False)


def test_cli_add_of_a_limit_run_writes_an_entry_that_validates_and_renders(tmp_path):
    """`leaderboard add` of a --limit run writes ranked/flags/flag_reasons (and the core hash):
    the schema accepts them, `validate` passes and the pages are fresh."""
    from click.testing import CliRunner

    from dfbench.cli import cli

    res = _on_machine(_results(n=2, subset={"limit": 2, "limit_percent": None, "seed": 0}, auc=1.0),
                      torch="2.4", index="aa" * 32)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.json").write_text(json.dumps(res))
    root = tmp_path / "boards"
    r = CliRunner().invoke(cli, ["leaderboard", "add", str(tmp_path / "run" / "results.json"), "--root", str(root)])
    assert r.exit_code == 0, r.output
    (entry,) = [json.loads(p.read_text()) for p in root.glob("*/*/*.json")]
    assert entry["ranked"] is False and "subset" in entry["flags"] and "subset" in entry["flag_reasons"]
    assert entry["measured"]["protocol_core_hash"] == res["protocol_core_hash"]
    r = CliRunner().invoke(cli, ["leaderboard", "validate", "--root", str(root)])
    assert r.exit_code == 0 and "1 entries valid" in r.output, r.output
    r = CliRunner().invoke(cli, ["leaderboard", "render", "--root", str(root), "--check"])
    assert r.exit_code == 0 and "up to date" in r.output, r.output


def test_tracked_leaderboards_validate():
    from click.testing import CliRunner

    from dfbench.cli import cli

    r = CliRunner().invoke(cli, ["leaderboard", "validate", "--root", str(ROOT / "leaderboards")])
    assert r.exit_code == 0, r.output
