"""Built-in datasets beyond FF++: Celeb-DF v2, DFDC, WildDeepfake and Hugging Face datasets.

Each test builds a miniature tree in the official layout and formats (dfbench.datasets.miniature)
and checks membership, labels (with each dataset's own convention translated to 1 = fake), key
uniqueness, count checks and that planted missing/broken files are listed rather than fatal.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from dfbench.datasets import miniature, plugin  # noqa: E402
from dfbench.datasets.common import DatasetFormatError, check_counts, index_dataset  # noqa: E402
from dfbench.errors import DatasetCountMismatch, DatasetNotFoundError, DfbenchError  # noqa: E402

SPECS = {s.name: s for s in plugin.dataset_specs()}


def labels(items) -> dict[str, int]:
    out = {it.key: it.label for it in items}
    assert len(out) == len(items), "keys must be unique"
    return out


# -- Celeb-DF v2 -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdf(tmp_path_factory) -> miniature.Miniature:
    return miniature.make_celebdf(tmp_path_factory.mktemp("cdf"))


def test_cdf_test_split_follows_the_list_with_inverted_numbers(cdf):
    items = index_dataset(SPECS["celebdf_v2"], cdf.root, "test", {})
    got = labels(items)
    # Independent reading of the official list: "<n> <folder>/<file>", n = 1 means REAL.
    expected = {}
    for line in (cdf.root / "List_of_testing_videos.txt").read_text().splitlines():
        n, rel = line.split()
        folder, name = rel.split("/")
        label = 1 - int(n)
        expected[f"celebdf_v2/{'fake' if label else 'real'}/{folder}/{name[:-4]}"] = label
    assert got == expected == cdf.expected["test"]
    assert len(items) == 518 and sum(got.values()) == 340
    # The first line is a video, not a header.
    first = next(it for it in items if it.key == "celebdf_v2/real/YouTube-real/00170")
    assert first.label == 0 and first.path.endswith("Celeb-DF-v2/YouTube-real/00170.mp4")
    assert {it.method for it in items if it.label == 1} == {"Celeb-synthesis"}


def test_cdf_counts_missing_and_broken(cdf):
    with pytest.raises(DatasetCountMismatch) as e:
        index_dataset(SPECS["celebdf_v2"], cdf.root, "test", {}, check=True)
    assert "expected 178 real videos, found 177 (1 listed but missing on disk)" in str(e.value)
    assert "--allow-partial" in str(e.value)
    items = index_dataset(
        SPECS["celebdf_v2"], cdf.root, "test", {"allow_partial": True}, check=True
    )
    assert len(items.warnings) == 1
    by_key = {it.key: it for it in items}
    assert all(by_key[k].meta.get("missing") for k in cdf.missing)
    assert all(k in by_key for k in cdf.broken)
    assert any(by_key[k].meta.get("broken") for k in cdf.broken)


def test_cdf_train_is_everything_not_listed(cdf):
    # The parent of Celeb-DF-v2/ works as a root too.
    train = index_dataset(SPECS["celebdf_v2"], cdf.root.parent, "train", {})
    assert labels(train) == cdf.expected["train"]
    test_keys = set(cdf.expected["test"])
    assert not test_keys & set(labels(train))
    assert all(it.path.endswith(".mp4") for it in train)  # the temp file is ignored
    with pytest.raises(DatasetCountMismatch, match="expected 712 real"):
        check_counts(SPECS["celebdf_v2"], train, "train", {})


def test_cdf_list_number_conflict_blank_lines_and_bad_lines(tmp_path):
    mini = miniature.make_celebdf(tmp_path)
    lst = mini.root / "List_of_testing_videos.txt"
    lines = lst.read_text().splitlines()
    lines[0] = "0 " + lines[0].split()[1]  # number disagrees with the folder: folder wins
    lst.write_text("\n".join(lines) + "\n\n")
    items = index_dataset(SPECS["celebdf_v2"], mini.root, "test", {})
    first = next(it for it in items if it.key == "celebdf_v2/real/YouTube-real/00170")
    assert first.label == 0 and first.meta["list_label_conflict"] == 0
    assert len(items) == 518
    lst.write_text("label,path\n" + "\n".join(lines))
    with pytest.raises(DatasetFormatError, match="line 1"):
        index_dataset(SPECS["celebdf_v2"], mini.root, "test", {})
    lst.unlink()
    with pytest.raises(DatasetNotFoundError, match="List_of_testing_videos.txt"):
        index_dataset(SPECS["celebdf_v2"], mini.root, "test", {})


# -- DFDC --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dfdc(tmp_path_factory) -> miniature.Miniature:
    return miniature.make_dfdc(tmp_path_factory.mktemp("dfdc"))


def test_dfdc_test_labels_csv_is_one_for_fake(dfdc):
    items = index_dataset(SPECS["dfdc"], dfdc.root, "test", {"allow_partial": True})
    with (dfdc.root / "test" / "labels.csv").open() as f:
        rows = {r["filename"][:-4]: int(r["label"]) for r in csv.DictReader(f)}
    expected = {f"dfdc/{'fake' if lab else 'real'}/test/{name}": lab for name, lab in rows.items()}
    assert labels(items) == expected == dfdc.expected["test"]
    assert all("/test/videos/" in it.path for it in items)  # found below the labels' folder
    assert any(it.meta.get("augmentations") == ["augmenter:framerate_change"] for it in items)
    assert all(it.meta.get("broken") for it in items if it.key in dfdc.broken)
    assert not any("test_videos" in it.path for it in items)  # Kaggle's unlabelled set


def test_dfdc_validation_and_missing_file(dfdc):
    items = index_dataset(SPECS["dfdc"], dfdc.root, "val", {"allow_partial": True})
    assert labels(items) == dfdc.expected["val"]
    assert [it.key for it in items if it.meta.get("missing")] == sorted(dfdc.missing)
    with pytest.raises(DatasetCountMismatch, match="dfdc val: expected 2000 real videos, found 2"):
        check_counts(SPECS["dfdc"], items, "val", {})


def test_dfdc_train_parts_metadata_real_fake(dfdc):
    items = index_dataset(SPECS["dfdc"], dfdc.root, "train", {"allow_partial": True})
    assert labels(items) == dfdc.expected["train"]
    # The nested part (dfdc_train_part_01/dfdc_train_part_1) is found.
    assert {it.method for it in items} == {"dfdc_train_part_0", "dfdc_train_part_1"}
    fakes = [it for it in items if it.label == 1]
    assert fakes and all(it.meta["original"].endswith(".mp4") for it in fakes)
    reals = {Path(it.path).name for it in items if it.label == 0}
    assert all(it.meta["original"] in reals for it in fakes)
    # Kaggle root (parts directly under it) works as well.
    items2 = index_dataset(SPECS["dfdc"], dfdc.root / "train", "train", {})
    assert labels(items2) == labels(items)


def test_dfdc_refuses_a_submission_template_and_missing_labels(tmp_path, dfdc):
    root = tmp_path / "DFDC"
    (root / "test").mkdir(parents=True)
    shutil.copyfile(dfdc.root / "sample_submission.csv", root / "test" / "labels.csv")
    with pytest.raises(DatasetFormatError, match="sample_submission"):
        index_dataset(SPECS["dfdc"], root, "test", {})
    with pytest.raises(DatasetNotFoundError, match="dfdc.ai"):
        index_dataset(SPECS["dfdc"], root, "val", {})
    with pytest.raises(DatasetNotFoundError, match="dfdc_train_part"):
        index_dataset(SPECS["dfdc"], root, "train", {})


# -- WildDeepfake ------------------------------------------------------------------------------


@pytest.fixture()
def dfw(tmp_path) -> miniature.Miniature:
    return miniature.make_dfw(tmp_path)


def test_dfw_sequences_keys_labels_and_frame_order(dfw):
    spec = SPECS["dfw"]
    train = index_dataset(spec, dfw.root, "train", {})
    assert labels(train) == dfw.expected["train"]
    test = index_dataset(spec, dfw.root.parent, "test", {"allow_partial": True})
    expected = {k: v for k, v in dfw.expected["test"].items() if k not in dfw.missing}
    assert labels(test) == expected
    # Archive index repeats across folders: real_test/0/… and fake_test/0/… are distinct keys.
    assert {"dfw/real/real_test/0/0", "dfw/fake/fake_test/0/0"} <= set(labels(test))
    for it in train + test:
        assert it.kind == "frames" and it.precropped and Path(it.path).is_dir()
    seq = next(it for it in test if it.key == "dfw/fake/fake_test/1/131")
    assert seq.meta["frames"] == ["998.png", "999.png", "1000.png"]
    assert next(it for it in test if it.key == "dfw/fake/fake_test/1/300").meta["broken"]
    assert (
        next(it for it in test if it.key == "dfw/real/real_test/0/0")
        .meta["archive"]
        .endswith("0.tar.gz")
    )


def test_dfw_unextracted_archive_is_loud_unless_extracted_or_partial(dfw):
    spec = SPECS["dfw"]
    with pytest.raises(DatasetCountMismatch, match="2.tar.gz") as e:
        index_dataset(spec, dfw.root, "test", {})
    assert "extract=True" in str(e.value) and "--allow-partial" in str(e.value)
    items = index_dataset(spec, dfw.root, "test", {"extract": True})
    assert labels(items) == dfw.expected["test"]
    assert next(it for it in items if it.key in dfw.missing).meta["n_frames"] == 2
    with pytest.raises(DatasetNotFoundError, match="real_test"):
        index_dataset(spec, dfw.root / "real_test", "test", {})


# -- Hugging Face ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hf(tmp_path_factory) -> miniature.Miniature:
    return miniature.make_hf(tmp_path_factory.mktemp("hf"))


def test_hf_local_dataset_with_label_map(hf, tmp_path):
    opts = {
        "label_column": "kind",
        "label_map": {"original": 0, "swapped": 1},
        "id_column": "uid",
        "cache_dir": str(tmp_path / "cache"),
    }
    items = index_dataset(SPECS["hf"], hf.root, "test", opts)
    assert labels(items) == {
        f"hf/{'fake' if v else 'real'}/hf/{k}": v for k, v in hf.expected["test"].items()
    }
    import cv2

    for it in items:  # images stored inside the dataset are materialised once as readable files
        assert it.kind == "image" and Path(it.path).is_file() and cv2.imread(it.path) is not None
    again = index_dataset(SPECS["hf"], hf.root, "test", opts)
    assert [it.path for it in again] == [it.path for it in items]


def test_hf_video_path_column_path_or_id_and_drop(hf):
    opts = {
        "path_or_id": str(hf.root),
        "media_column": "video_path",
        "label_column": "kind",
        "label_map": {"original": "real", "swapped": None},
    }
    items = index_dataset(SPECS["hf"], None, "train", opts)
    assert len(items) == 3 and all(it.label == 0 and it.kind == "video" for it in items)
    assert all(Path(it.path).is_file() and not it.meta.get("missing") for it in items)


def test_hf_unmapped_labels_and_bad_columns_are_actionable(hf):
    with pytest.raises(DfbenchError, match="label_map") as e:
        index_dataset(SPECS["hf"], hf.root, "test", {"label_column": "kind"})
    assert "'swapped'" in str(e.value)
    with pytest.raises(DfbenchError, match="label_column"):
        index_dataset(SPECS["hf"], hf.root, "test", {})
    with pytest.raises(DfbenchError, match="splits train, test"):
        index_dataset(SPECS["hf"], hf.root, "val", {"label_column": "kind"})
    with pytest.raises(DatasetNotFoundError, match="--data-root"):
        index_dataset(SPECS["hf"], None, "test", {})


def test_hf_classlabel_and_missing_file(tmp_path):
    import datasets

    real = tmp_path / "a.mp4"
    miniature.write_tiny_video(real)
    ds = datasets.Dataset.from_dict(
        {"video": [str(real), str(tmp_path / "gone.mp4"), str(real)], "label": [1, 0, 0]},
        features=datasets.Features(
            {
                "video": datasets.Value("string"),
                "label": datasets.ClassLabel(names=["fake", "real"]),
            }
        ),
    )
    ds.save_to_disk(str(tmp_path / "ds"))
    items = index_dataset(SPECS["hf"], tmp_path / "ds", "test", {})
    # ClassLabel: names decide (index 0 is "fake" here), not the integer. Without an id column
    # the key is the media path (issue 12: row numbers move when a file is added); a path
    # listed twice gets a ~2 suffix instead of merging two rows.
    a, gone = real.as_posix().lstrip("/"), (tmp_path / "gone.mp4").as_posix().lstrip("/")
    assert sorted((it.key, it.label) for it in items) == sorted([
        (f"hf/real/hf/{a}", 0),
        (f"hf/fake/hf/{gone}", 1),
        (f"hf/fake/hf/{a}~2", 1),
    ])
    assert next(it for it in items if it.key.endswith("gone.mp4")).meta["missing"] is True


def test_hf_imagefolder_directory_labels_from_folder_names(tmp_path, monkeypatch):
    import cv2
    import datasets
    import numpy as np

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))
    for cls in ("real", "fake"):
        for i in range(2):
            (tmp_path / "imgs" / "test" / cls).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(
                str(tmp_path / "imgs" / "test" / cls / f"{i}.png"), np.zeros((8, 8, 3), np.uint8)
            )
    items = index_dataset(SPECS["hf"], tmp_path / "imgs", "test", {})
    assert sorted((Path(it.path).parent.name, it.label, it.kind) for it in items) == [
        ("fake", 1, "image"),
        ("fake", 1, "image"),
        ("real", 0, "image"),
        ("real", 0, "image"),
    ]


def test_hf_unknown_hub_id_offline_is_a_clear_error():
    with pytest.raises(DatasetNotFoundError, match="local cache"):
        index_dataset(SPECS["hf"], None, "test", {"path_or_id": "dfbench-tests/does-not-exist"})
