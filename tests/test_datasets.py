"""Built-in dataset plugin: registration, index_dataset/check_counts, FaceForensics++ and DFD.

FF++ is checked on a miniature tree at the full official test size (140 reals, 140 fakes per
method) against membership derived here, independently, from the official split JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfbench.datasets import miniature, plugin
from dfbench.datasets.common import (
    DatasetIndex,
    DuplicateKeyError,
    UnknownSplitError,
    check_counts,
    index_dataset,
)
from dfbench.errors import DatasetCountMismatch, DatasetNotFoundError, DfbenchError
from dfbench.plugins import get_plugin_manager
from dfbench.registry import Registry
from dfbench.specs import DatasetSpec, VideoItem

SPLITS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ffpp_splits"
FOUR = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
SPECS = {s.name: s for s in plugin.dataset_specs()}


def official_members(split: str, methods=FOUR, dataset: str = "ffpp_c23") -> dict[str, int]:
    """Keys and labels of an FF++ split by the rule of the FF++ download script."""
    pairs = json.loads((SPLITS / f"{split}.json").read_text())
    out = {}
    for a, b in pairs:
        for real in (a, b):
            out[f"{dataset}/real/youtube/{real}"] = 0
        for m in methods:
            for fake in (f"{a}_{b}", f"{b}_{a}"):
                out[f"{dataset}/fake/{m}/{fake}"] = 1
    return out


@pytest.fixture(scope="module")
def ffpp(tmp_path_factory) -> miniature.Miniature:
    return miniature.make_ffpp(tmp_path_factory.mktemp("ffpp"), SPLITS, splits=("test",))


# -- registration ------------------------------------------------------------------------------


def test_plugin_registers_every_builtin_dataset_with_aliases():
    reg = Registry(get_plugin_manager(load_entrypoints=False, extra_plugins=[plugin]))
    assert set(reg.datasets) == {
        "ffpp_raw",
        "ffpp_c23",
        "ffpp_c40",
        "celebdf_v2",
        "celebdf_v1",
        "dfdcp",
        "deeperforensics",
        "ffiw",
        "uadfv",
        "dfd",
        "dfdc",
        "dfw",
        "hf",
        "demo",
        "demo_real",
    }
    assert reg.dataset("ffpp").name == "ffpp_c23"
    assert reg.dataset("cdf").name == "celebdf_v2"
    assert reg.datasets["dfw"].precropped and not reg.datasets["dfd"].precropped
    assert not reg.datasets["demo"].needs_root and not reg.datasets["hf"].needs_root
    assert reg.datasets["demo"].index == "dfbench.datasets.demo:index"
    assert reg.datasets["demo"].splits == ("train", "test")
    assert reg.datasets["ffpp_c23"].expected_counts["test"] == {"real": 140, "fake": 140}
    assert reg.datasets["celebdf_v2"].expected_counts["test"] == {"real": 178, "fake": 340}
    assert reg.datasets["dfdc"].expected_counts["test"] == {"real": 2500, "fake": 2500}
    assert reg.datasets["dfd"].expected_counts["test"] == {"real": 363, "fake": 3068}


def test_entry_point_declares_the_builtin_plugin():
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group="dfbench")}
    assert eps.get("builtin_datasets") == "dfbench.datasets.plugin"


# -- index_dataset / check_counts --------------------------------------------------------------


def test_unknown_split_names_the_available_ones(tmp_path):
    with pytest.raises(UnknownSplitError, match="train, val, test"):
        index_dataset(SPECS["ffpp_c23"], tmp_path, "dev", {})


def test_missing_root_names_flag_and_env_var(monkeypatch):
    monkeypatch.delenv("DFBENCH_FFPP_C23_ROOT", raising=False)
    with pytest.raises(DatasetNotFoundError) as e:
        index_dataset(SPECS["ffpp_c23"], None, "test", {})
    assert "--data-root" in str(e.value) and "DFBENCH_FFPP_C23_ROOT" in str(e.value)
    with pytest.raises(DatasetNotFoundError, match="not a directory"):
        index_dataset(SPECS["celebdf_v2"], "/nonexistent/celeb", "test", {})


def test_root_from_env_var(ffpp, monkeypatch):
    monkeypatch.setenv("DFBENCH_FFPP_C23_ROOT", str(ffpp.root))
    items = index_dataset(SPECS["ffpp_c23"], None, "test", {"methods": ["Deepfakes"]})
    assert len(items) == 280


def _spec_returning(items, **kw) -> DatasetSpec:
    return DatasetSpec(
        name="toy", index=lambda root, split, options: list(items), needs_root=False, **kw
    )


def test_duplicate_keys_are_refused():
    item = VideoItem(key="toy/fake/m/000_003", label=1, method="m", path="a.mp4")
    with pytest.raises(DuplicateKeyError, match="000_003"):
        index_dataset(_spec_returning([item, item]), None, "test", {})


def test_items_are_sorted_and_count_mismatch_is_loud():
    items = [
        VideoItem(
            key=f"toy/{'fake' if i % 2 else 'real'}/m/{9 - i}", label=i % 2, method="m", path="x"
        )
        for i in range(4)
    ]
    spec = _spec_returning(items, expected_counts={"test": {"real": 2, "fake": 3}})
    out = index_dataset(spec, None, "test", {})
    assert [it.key for it in out] == sorted(it.key for it in items)
    with pytest.raises(DatasetCountMismatch) as e:
        check_counts(spec, out, "test", {})
    assert "--allow-partial" in str(e.value) and "expected 3 fake videos, found 2" in str(e.value)
    assert check_counts(spec, out, "test", {"allow_partial": True}) == [
        "toy test: expected 3 fake videos, found 2"
    ]
    checked = index_dataset(spec, None, "test", {"allow_partial": True}, check=True)
    assert isinstance(checked, DatasetIndex) and checked.partial and len(checked.warnings) == 1
    assert check_counts(spec, out, "train", {}) == []  # no official counts for that split


# -- FF++ --------------------------------------------------------------------------------------


def test_ffpp_test_split_is_140_real_560_fake_and_matches_the_split_file(ffpp):
    items = index_dataset(SPECS["ffpp_c23"], ffpp.root, "test", {"allow_partial": True})
    got = {it.key: it.label for it in items}
    assert len(items) == len(got) == 700
    assert sum(1 - it.label for it in items) == 140 and sum(it.label for it in items) == 560
    assert got == official_members("test")
    # Same pair name in four method folders stays four videos.
    pair = "012_026"
    assert {it.method for it in items if it.key.endswith("/" + pair)} == set(FOUR)
    assert all(it.kind == "video" and not it.precropped for it in items)


def test_ffpp_never_picks_masks_temp_files_dfd_or_other_compressions(ffpp):
    items = index_dataset(
        SPECS["ffpp_c23"], ffpp.root, "test", {"allow_partial": True, "methods": "all"}
    )
    for it in items:
        parts = Path(it.path).relative_to(ffpp.root).parts
        assert parts[2:] == ("c23", "videos", Path(it.path).name), it.path
        assert it.path.endswith(".mp4")
        assert parts[1] not in ("actors", "DeepFakeDetection")
    assert (ffpp.root / "original_sequences/youtube/c23/videos/tmpk3x9_q2a").exists()
    assert any((ffpp.root / "manipulated_sequences/Deepfakes/masks/videos").iterdir())


def test_ffpp_missing_and_broken_files_are_listed_and_counted(ffpp):
    with pytest.raises(DatasetCountMismatch) as e:
        index_dataset(SPECS["ffpp_c23"], ffpp.root, "test", {}, check=True)
    msg = str(e.value)
    assert "expected 140 Deepfakes fake videos, found 139" in msg and "--allow-partial" in msg
    items = index_dataset(SPECS["ffpp_c23"], ffpp.root, "test", {"allow_partial": True}, check=True)
    assert items.warnings == [
        "ffpp_c23 test: expected 140 Deepfakes fake videos, found 139 (1 listed but missing on disk)"
    ]
    by_key = {it.key: it for it in items}
    for key in ffpp.missing:
        assert by_key[key].meta["missing"] is True and not Path(by_key[key].path).exists()
    for key in ffpp.broken:
        assert key in by_key and Path(by_key[key].path).exists()
    empty = [k for k in ffpp.broken if Path(by_key[k].path).stat().st_size == 0]
    assert empty and all(by_key[k].meta["broken"] for k in empty)


def test_ffpp_method_selection(ffpp):
    spec = SPECS["ffpp_c23"]
    all5 = index_dataset(spec, ffpp.root, "test", {"allow_partial": True, "methods": ["all"]})
    assert len(all5) == 140 + 700
    assert {it.key: it.label for it in all5} == official_members("test", FOUR + ("FaceShifter",))
    one = index_dataset(spec, ffpp.root, "test", {"methods": "faceswap"}, check=True)
    assert len(one) == 280 and {it.method for it in one} == {"youtube", "FaceSwap"}
    assert check_counts(spec, one, "test", {"methods": "faceswap"}) == []
    with pytest.raises(DfbenchError, match="--methods"):
        index_dataset(spec, ffpp.root, "test", {"methods": ["DeepFakeDetection"]})


def test_ffpp_split_files_from_splits_dir_and_clear_error_without_them(tmp_path):
    root = tmp_path / "ff"
    (root / "original_sequences").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError) as e:
        index_dataset(SPECS["ffpp_c23"], root, "val", {})
    assert "--splits" in str(e.value) and "splits" in str(e.value)
    # Every listed file missing: still listed, never a crash; the counts say so.
    items = index_dataset(
        SPECS["ffpp_c23"], root, "val", {"splits_dir": str(SPLITS), "allow_partial": True}
    )
    assert {it.key: it.label for it in items} == official_members("val")
    assert all(it.meta["missing"] for it in items)
    with pytest.raises(DatasetCountMismatch, match="found 0"):
        check_counts(SPECS["ffpp_c23"], items, "val", {})


def test_ffpp_splits_are_disjoint_and_have_the_official_sizes(tmp_path):
    keys = {}
    for split, n_real in (("train", 720), ("val", 140), ("test", 140)):
        items = index_dataset(SPECS["ffpp_raw"], tmp_path, split, {"splits_dir": str(SPLITS)})
        assert sum(1 - it.label for it in items) == n_real
        assert sum(it.label for it in items) == 4 * n_real
        keys[split] = {it.key for it in items}
        assert all(it.key.startswith("ffpp_raw/") and "/raw/videos/" in it.path for it in items)
    assert (
        not (keys["train"] & keys["val"])
        and not (keys["train"] & keys["test"])
        and not (keys["val"] & keys["test"])
    )


def test_ffpp_compression_is_fixed_by_the_dataset_name(ffpp):
    items = index_dataset(
        SPECS["ffpp_c40"], ffpp.root, "test", {"allow_partial": True, "compression": "c23"}
    )
    assert all(it.key.startswith("ffpp_c40/") and it.meta.get("missing") for it in items)
    with pytest.raises(DatasetCountMismatch, match="ffpp_c40 test"):
        check_counts(SPECS["ffpp_c40"], items, "test", {})


def test_ffpp_malformed_split_file(tmp_path):
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "test.json").write_text('[["000", "003"], ["001"]]')
    with pytest.raises(DfbenchError, match="entry 1"):
        index_dataset(SPECS["ffpp_c23"], tmp_path, "test", {})


# -- DFD ---------------------------------------------------------------------------------------


def test_dfd_index_by_folder_with_masks_and_broken_file(tmp_path):
    mini = miniature.make_dfd(tmp_path / "ff")
    spec = SPECS["dfd"]
    items = index_dataset(spec, mini.root, "test", {})
    assert {it.key: it.label for it in items} == mini.expected["test"]
    assert {it.method for it in items} == {"actors", "DeepFakeDetection"}
    fakes = [it for it in items if it.label == 1]
    assert all(
        it.meta["mask"].endswith(Path(it.path).name) and "/masks/" in it.meta["mask"]
        for it in fakes
    )
    assert all(
        it.meta["original"].split("__")[0] == Path(it.path).name.split("_")[0] for it in fakes
    )
    (broken,) = mini.broken
    assert next(it for it in items if it.key == broken).meta["broken"]
    assert not any(
        "youtube" in it.path or "Deepfakes/" in it.path or "/masks/" in it.path for it in items
    )
    with pytest.raises(DatasetCountMismatch, match="expected 363 real"):
        check_counts(spec, items, "test", {})
    with pytest.raises(DatasetNotFoundError, match="DeepFakeDetection"):
        index_dataset(spec, mini.root, "test", {"compression": "c40"})


@pytest.mark.benchmark(group="datasets")
def test_bench_index_ffpp_test(benchmark, ffpp):
    """Indexing cost of the full FF++ test split (700 files looked up)."""
    items = benchmark(index_dataset, SPECS["ffpp_c23"], ffpp.root, "test", {"allow_partial": True})
    assert len(items) == 700


def test_per_method_counts_without_a_declared_method_list():
    items = [
        VideoItem(key="toy/real/src/0", label=0, method="src", path="x"),
        VideoItem(key="toy/fake/A/0", label=1, method="A", path="x"),
        VideoItem(key="toy/fake/B/0", label=1, method="B", path="x", meta={"missing": True}),
    ]
    spec = _spec_returning(
        items, expected_counts={"test": {"real": 1, "fake": 1}}, counts_per_method=True
    )
    assert check_counts(spec, items, "test", {"allow_partial": True}) == [
        "toy test: expected 1 B fake videos, found 0 (1 listed but missing on disk)"
    ]


def test_every_registered_dataset_passes_the_spec_contract():
    from dfbench.testing import check_dataset_spec

    reg = Registry(get_plugin_manager(load_entrypoints=False, extra_plugins=[plugin]))
    for spec in reg.datasets.values():
        check_dataset_spec(spec, reg)


def test_dataset_spec_contract_names_the_broken_rule():
    from dfbench.specs import DatasetSpec
    from dfbench.testing import check_dataset_spec

    reg = Registry(get_plugin_manager(load_entrypoints=False, extra_plugins=[plugin]))
    good = dict(name="mine", index="dfbench.datasets.uadfv:index", splits=("test",))
    check_dataset_spec(DatasetSpec(**good), reg)
    for bad, rule in (
        ({"expected_counts": {"train": {"real": 1, "fake": 1}}}, "undeclared split"),
        ({"name": "My-Set"}, "use"),
        ({"aliases": ("dfdc",)}, "another dataset's id"),
        ({"expected_counts": {"test": {"real": -1}}}, "bad count"),
    ):
        with pytest.raises(AssertionError, match=rule):
            check_dataset_spec(DatasetSpec(**{**good, **bad}), reg)
