"""Issue 12 item 13, label files: bad list/label files give one line naming the file and the fix.

Each test plants one defect a user meets in practice into a miniature official tree
(:mod:`dfbench.testing.miniature`) and checks the behaviour: binary list -> named refusal, BOM ->
accepted, duplicate lines -> counted once with a warning, a labels.csv row without its comma ->
named refusal with the line, an empty list with --allow-partial -> refused (nothing to evaluate),
and Hugging Face keys that do not move when a file is added.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dfbench.datasets import plugin
from dfbench.datasets.common import index_dataset
from dfbench.errors import DatasetCountMismatch, DfbenchError
from dfbench.testing import miniature

SPECS = {s.name: s for s in plugin.dataset_specs()}


@pytest.fixture
def cdf(tmp_path) -> miniature.Miniature:
    return miniature.make_celebdf(tmp_path)


@pytest.fixture
def dfdc(tmp_path) -> miniature.Miniature:
    return miniature.make_dfdc(tmp_path)


def _cdf_list(mini) -> Path:
    return mini.root / "List_of_testing_videos.txt"


@pytest.mark.parametrize(
    "payload",
    [b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)), b"\x89PNG\r\n\x1a\n\xff\xd8\xff\xe0"],
    ids=["zip-with-nul", "non-utf8"],
)
def test_binary_list_file_is_refused_naming_the_file(cdf, payload):
    _cdf_list(cdf).write_bytes(payload)
    with pytest.raises(DfbenchError) as e:
        index_dataset(SPECS["celebdf_v2"], cdf.root, "test", {"allow_partial": True})
    assert not isinstance(e.value, UnicodeDecodeError)
    assert "List_of_testing_videos.txt" in str(e.value) and "\n" not in str(e.value)


def test_utf8_bom_in_list_file_is_accepted(cdf):
    path = _cdf_list(cdf)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    items = index_dataset(SPECS["celebdf_v2"], cdf.root, "test", {"allow_partial": True})
    assert {it.key: it.label for it in items} == cdf.expected["test"]


def test_duplicate_list_lines_are_counted_once_with_one_warning(cdf, caplog):
    path = _cdf_list(cdf)
    lines = path.read_text().split("\n")
    path.write_text("\n".join(lines + lines[:4]))
    with caplog.at_level(logging.WARNING):
        items = index_dataset(SPECS["celebdf_v2"], cdf.root, "test", {"allow_partial": True})
    assert {it.key: it.label for it in items} == cdf.expected["test"]
    dup = [r.getMessage() for r in caplog.records if " duplicate " in r.getMessage()]
    assert len(dup) == 1 and "4 duplicate lines" in dup[0] and "line 519 repeats line 1" in dup[0]


def test_empty_list_with_allow_partial_is_refused(cdf):
    _cdf_list(cdf).write_text("")
    with pytest.raises(DatasetCountMismatch, match="nothing to evaluate") as e:
        index_dataset(SPECS["celebdf_v2"], cdf.root, "test", {"allow_partial": True}, check=True)
    assert "DFBENCH_CELEBDF_V2_ROOT" in str(e.value)


def test_dfdc_labels_row_without_comma_names_file_and_line(dfdc):
    labels = dfdc.root / "test" / "labels.csv"
    rows = labels.read_text().splitlines()
    rows.insert(3, "aaqaifqrwn.mp4")
    labels.write_text("\n".join(rows) + "\n")
    with pytest.raises(DfbenchError, match=r"labels\.csv' line 4: expected") as e:
        index_dataset(SPECS["dfdc"], dfdc.root, "test", {})
    assert not isinstance(e.value, IndexError)


def test_dfdc_labels_bom_binary_and_duplicates(dfdc, caplog):
    labels = dfdc.root / "test" / "labels.csv"
    text = labels.read_text()
    labels.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert {it.key for it in index_dataset(SPECS["dfdc"], dfdc.root, "test", {})} == set(
        dfdc.expected["test"]
    )
    first = text.splitlines()[1]
    labels.write_text(text + first + "\n")
    with caplog.at_level(logging.WARNING):
        items = index_dataset(SPECS["dfdc"], dfdc.root, "test", {})
    assert len(items) == len(dfdc.expected["test"])
    assert any("1 duplicate row" in r.getMessage() for r in caplog.records)
    name, label = first.split(",")
    labels.write_text(text + f"{name},{1 - int(label)}\n")
    with pytest.raises(DfbenchError, match=f"{name} is labelled"):
        index_dataset(SPECS["dfdc"], dfdc.root, "test", {})
    labels.write_bytes(b"\xff\xfef\x00i\x00l\x00e\x00")
    with pytest.raises(DfbenchError, match="labels.csv' is not"):
        index_dataset(SPECS["dfdc"], dfdc.root, "test", {})


def test_hf_keys_do_not_move_when_a_file_is_added(tmp_path):
    datasets = pytest.importorskip("datasets")
    media = tmp_path / "media"
    w = miniature._Writer()
    try:
        names = [f"clip_{i}.mp4" for i in range(6)]
        for n in names + ["new_clip.mp4"]:
            w.video(media / n)
    finally:
        w.close()

    label_of = {n: i % 2 for i, n in enumerate(names)} | {"new_clip.mp4": 1}

    def save(rows: list[str], where: Path) -> Path:
        ds = datasets.Dataset.from_dict(
            {"video": [str(media / n) for n in rows], "label": [label_of[n] for n in rows]}
        )
        ds.save_to_disk(str(where))
        return where

    def keys(root: Path) -> dict[str, str]:
        items = index_dataset(SPECS["hf"], root, "train", {"media_column": "video"})
        return {Path(it.path).name: it.key for it in items}

    before = keys(save(names, tmp_path / "v1"))
    # The new file goes first: every row number shifts (and the row count gains a digit's worth).
    after = keys(save(["new_clip.mp4"] + names, tmp_path / "v2"))
    assert len(after) == len(before) + 1
    assert {n: after[n] for n in names} == before
    assert not any("row" in k.rsplit("/", 1)[-1] for k in after.values())


def test_empty_list_is_refused_where_the_list_is_the_count(tmp_path):
    """Celeb-DF v1 has no published totals: its list is the count, so an empty list is not 0 of 0."""
    mini = miniature.make_celebdf_v1(tmp_path)
    (mini.root / "List_of_testing_videos.txt").write_text("\n")
    for opts in ({}, {"allow_partial": True}):
        with pytest.raises(DatasetCountMismatch, match="nothing to evaluate"):
            index_dataset(SPECS["celebdf_v1"], mini.root, "test", opts, check=True)
