"""Acceptance for the cross-dataset test sets (issue 17 item 1): ``dfbench index DATASET --json``
on a miniature official tree gives exactly the official membership and labels, decoys (files the
official list does not name) are ignored, and listed-but-missing files are reported (the count
check names them and --allow-partial).

Trees: :mod:`dfbench.testing.miniature_cross`. The CLI runs in-process against a registry holding
only the built-in dataset plugin (as in test_datasets_cli.py).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dfbench import registry as registry_module
from dfbench.datasets import plugin
from dfbench.plugins import get_plugin_manager
from dfbench.registry import Registry
from dfbench.testing import miniature


@pytest.fixture()
def index_cli(monkeypatch):
    reg = Registry(get_plugin_manager(load_entrypoints=False, extra_plugins=[plugin]))
    monkeypatch.setattr(registry_module, "_default", reg)
    from dfbench.cli import cli

    def run(*args: str) -> tuple[int, dict[str, int] | None, str, list[dict] | None]:
        result = CliRunner().invoke(cli, ["index", *args, "--json"])
        try:
            rows = json.loads(result.stdout)
        except ValueError:
            return result.exit_code, None, result.output, None
        labels = {r["key"]: r["label"] for r in rows}
        assert len(labels) == len(rows), "keys must be unique"
        return result.exit_code, labels, result.output, rows

    return run


def test_celebdf_v1_official_list(index_cli, tmp_path):
    mini = miniature.make_celebdf_v1(tmp_path)
    code, labels, out, _ = index_cli("cdf1", "--data-root", str(tmp_path))
    assert code != 0 and "1 listed but missing on disk" in out and "--allow-partial" in out
    code, labels, _, _ = index_cli("cdf1", "--data-root", str(tmp_path), "--allow-partial")
    assert code == 0 and labels == mini.expected["test"]
    assert mini.missing <= set(labels) and mini.broken <= set(labels)
    code, labels, _, _ = index_cli("celebdf_v1", "--data-root", str(mini.root), "--split", "train")
    assert code == 0 and labels == mini.expected["train"]


def test_celebdf_v1_refuses_a_v2_tree(index_cli, tmp_path):
    v2 = miniature.make_celebdf(tmp_path, n_train=(0, 0, 800))
    code, _, out, _ = index_cli("cdf1", "--data-root", str(v2.root), "--allow-partial")
    assert code != 0 and "celebdf_v2" in out and "not v1" in out


def test_dfdcp_dataset_json_test_split(index_cli, tmp_path):
    mini = miniature.make_dfdcp(tmp_path)
    code, _, out, _ = index_cli("dfdcp", "--data-root", str(tmp_path))
    assert code != 0 and "expected 501 fake videos, found 500 (1 listed but missing on disk)" in out
    code, labels, _, rows = index_cli("dfdcp", "--data-root", str(tmp_path), "--allow-partial")
    assert code == 0 and labels == mini.expected["test"]
    assert sum(labels.values()) == 501 and len(labels) == 777
    assert not any("9999999" in k for k in labels)  # the decoy is not in dataset.json
    sbi_layout = [r for r in rows if "/videos/" in r["path"]]
    assert len(sbi_layout) == 1  # found in SBI's re-arranged layout as well
    code, labels, _, _ = index_cli(
        "dfdc_preview", "--data-root", str(mini.root), "--split", "train", "--allow-partial"
    )
    assert code == 0 and labels == mini.expected["train"]


def test_deeperforensics_official_list_ffpp_reals_and_variants(index_cli, tmp_path):
    mini = miniature.make_deeperforensics(tmp_path)
    code, _, out, _ = index_cli("df1.0", "--data-root", str(tmp_path))
    assert code != 0 and "expected 5 real videos, found 4 (1 listed but missing on disk)" in out
    assert "expected 5 fake videos, found 4" in out
    code, labels, _, rows = index_cli("df1.0", "--data-root", str(tmp_path), "--allow-partial")
    assert code == 0 and labels == mini.expected["test"]
    assert not any("999_" in k or "998" in k or "M004_light" in k for k in labels)  # decoys
    reals = [r for r in rows if r["label"] == 0]
    assert all("original_sequences/youtube/c23/videos" in r["path"] for r in reals)
    code, labels, _, _ = index_cli("deeperforensics", "--data-root", str(mini.root), "--split", "val")
    assert code == 0 and labels == mini.expected["val"]  # val.txt lines have no .mp4 suffix
    code, labels, _, _ = index_cli(
        "df1.0", "--data-root", str(mini.root), "--split", "train", "--option", "variant=end_to_end_level_2"
    )
    assert code == 0 and set(labels) == {
        k.replace("/end_to_end/", "/end_to_end_level_2/") for k in mini.expected["train"]
    }
    code, _, out, _ = index_cli("df1.0", "--data-root", str(mini.root), "--option", "variant=level_9")
    assert code != 0 and "end_to_end_mix_2_distortions" in out


def test_deeperforensics_names_where_the_ffpp_reals_are_expected(index_cli, tmp_path):
    mini = miniature.make_deeperforensics(tmp_path / "a")
    elsewhere = tmp_path / "b"
    mini.root.rename(elsewhere)
    code, _, out, _ = index_cli("df1.0", "--data-root", str(elsewhere))
    assert code != 0 and "ffpp_root" in out and "DFBENCH_FFPP_C23_ROOT" in out
    code, labels, _, _ = index_cli(
        "df1.0", "--data-root", str(elsewhere), "--option", f"ffpp_root={tmp_path / 'a'}", "--allow-partial"
    )
    assert code == 0 and labels == mini.expected["test"]


def test_ffiw_val_folders_are_the_test_split(index_cli, tmp_path):
    mini = miniature.make_ffiw(tmp_path)
    code, labels, _, rows = index_cli("ffiw", "--data-root", str(tmp_path))
    assert code == 0 and labels == mini.expected["test"]  # full size: 250 + 250
    assert sum(labels.values()) == 250 and len(labels) == 500
    code, labels, _, _ = index_cli("ffiw10k", "--data-root", str(mini.root), "--split", "train")
    assert code == 0 and labels == mini.expected["train"]
    # A video gone from disk is a loud count mismatch (folder-based: nothing else lists it).
    (mini.root / "source" / "val" / "videos" / "val_00000.mp4").unlink()
    code, _, out, _ = index_cli("ffiw", "--data-root", str(tmp_path))
    assert code != 0 and "expected 250 real videos, found 249" in out


def test_ffiw_records_the_face_rule():
    spec = {s.name: s for s in plugin.dataset_specs()}["ffiw"]
    assert spec.options["multi_face"] == "all"
    assert spec.options["face_rule"] == "max_over_faces_then_mean_over_frames"


def test_uadfv_whole_set(index_cli, tmp_path):
    mini = miniature.make_uadfv(tmp_path)
    code, labels, _, _ = index_cli("uadfv", "--data-root", str(tmp_path))
    assert code == 0 and labels == mini.expected["test"] and len(labels) == 98


def test_dataset_alias_df10_does_not_shadow_the_corruption_suite():
    from dfbench.registry import get_registry

    reg = get_registry(refresh=True)
    assert reg.dataset("df1.0").name == "deeperforensics"
    assert len(reg.suite("df1.0")) == 7  # the DeeperForensics-1.0 perturbation types
    for alias, name in {"cdf1": "celebdf_v1", "dfdcp": "dfdcp", "ffiw": "ffiw"}.items():
        assert reg.dataset(alias).name == name
