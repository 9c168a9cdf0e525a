"""The embedded demo dataset: deterministic, atomic, correctly labelled, decodable, detectable faces."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from dfbench.datasets import demo  # noqa: E402
from dfbench.datasets.common import UnknownSplitError  # noqa: E402
from dfbench.datasets.demo_synth import plan  # noqa: E402
from dfbench.datasets.demo_synth.faces import get_detector  # noqa: E402

FAKE_METHODS = {"selfblend", "faceswap", "lowres", "lipsync"}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    return demo.build_demo(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def manifest(demo_dir) -> dict:
    return demo.load_manifest(demo_dir)


def _frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame[..., ::-1])
    cap.release()
    return out


def test_counts_labels_and_methods(demo_dir):
    for split, counts in demo.EXPECTED_COUNTS.items():
        items = demo.index(demo_dir, split, {})
        assert sum(i.label == 0 for i in items) == counts["real"]
        assert sum(i.label == 1 for i in items) == counts["fake"]
        for it in items:
            kind = "fake" if it.label else "real"
            assert re.fullmatch(rf"demo/{kind}/{it.method}/{split}_[rf]\d\d_[\w-]+", it.key), it.key
            assert (it.method == "original") == (it.label == 0)
            assert Path(it.path).is_file()
        fakes = [i for i in items if i.label == 1]
        # Every split has every method, evenly, including methods that are not self-blending.
        assert {i.method for i in fakes} == FAKE_METHODS
        per_method = {m: sum(i.method == m for i in fakes) for m in FAKE_METHODS}
        assert len(set(per_method.values())) == 1
        assert len({i.key for i in items}) == len(items)


def test_swaps_use_another_person(manifest):
    for v in manifest["videos"]:
        if v["method"] in ("faceswap", "lowres"):
            target, donor = plan.IDENTITIES[v["identity"]], plan.IDENTITIES[v["donor"]]
            assert target.photo != donor.photo, v["key"]
            assert v["donor"] in plan.SPLIT_IDENTITIES[v["split"]]
        else:
            assert v["donor"] is None


def test_splits_are_disjoint(manifest):
    by_split = {s: [v for v in manifest["videos"] if v["split"] == s] for s in demo.SPLITS}
    for field in ("key", "path", "identity", "seed", "sha256"):
        train = {v[field] for v in by_split["train"]}
        test = {v[field] for v in by_split["test"]}
        assert not train & test, field


def test_videos_decode_with_expected_frames(demo_dir, manifest):
    w, h = demo.FRAME_SIZE
    total = 0
    for v in manifest["videos"]:
        path = demo_dir / v["path"]
        frames = _frames(path)
        assert len(frames) == demo.N_FRAMES == v["frames"], v["key"]
        assert frames[0].shape == (h, w, 3)
        assert demo._sha256(path) == v["sha256"]
        total += path.stat().st_size
    assert total < 20 * 2**20  # the demo must stay small enough to build anywhere


def test_dlib_hog_finds_exactly_one_face(demo_dir, manifest):
    det = get_detector()
    for v in manifest["videos"]:
        frames = _frames(demo_dir / v["path"])
        for i in (0, len(frames) // 2, len(frames) - 1):
            boxes = det.boxes(np.ascontiguousarray(frames[i]))
            assert len(boxes) == 1, (v["key"], i, boxes)
            assert boxes[0][2] - boxes[0][0] >= 80, (v["key"], boxes)


def _inner_lip_gap(frames: list[np.ndarray]) -> np.ndarray:
    det = get_detector()
    gaps = []
    for f in frames:
        f = np.ascontiguousarray(f)
        lm = det.landmarks(f, det.boxes(f)[0])
        gaps.append(np.linalg.norm(lm[66] - lm[62]) / np.linalg.norm(lm[8] - lm[27]))
    return np.array(gaps)


def test_real_videos_are_not_frozen_photos(demo_dir, manifest):
    reals = [v for v in manifest["videos"] if v["method"] == "original"]
    for v in (reals[0], reals[1]):  # one astronaut and one Hopper variant
        frames = _frames(demo_dir / v["path"])
        det = get_detector()
        centres = [
            np.mean(np.reshape(det.boxes(np.ascontiguousarray(frames[i]))[0], (2, 2)), 0)
            for i in (0, 25, 49)
        ]
        assert np.ptp(np.array(centres), axis=0).max() > 2, "the camera should move"
        # The mouth opens and closes: the inner-lip gap, relative to face size, varies clearly.
        gap = _inner_lip_gap(frames[::3])
        assert gap.max() - gap.min() > 0.02, (v["key"], gap)


def test_subset_render_is_byte_identical(tmp_path, manifest):
    # One video per method (alternating splits), rendered alone into a fresh directory, gives the
    # same bytes: the build is deterministic and no video depends on what was rendered before it.
    wanted = {}
    for k, method in enumerate(["original", *sorted(FAKE_METHODS)]):
        split = demo.SPLITS[k % 2]
        wanted[method] = next(
            v for v in manifest["videos"] if v["method"] == method and v["split"] == split
        )
    names = {v["key"].rsplit("/", 1)[1] for v in wanted.values()}
    sub = demo._render_into(tmp_path, only=names)
    assert len(sub["videos"]) == len(names) == 5
    full = {v["key"]: v for v in manifest["videos"]}
    for v in sub["videos"]:
        assert v == full[v["key"]]
    assert {k: sub[k] for k in sub if k != "videos"} == {
        k: manifest[k] for k in manifest if k != "videos"
    }


@pytest.mark.slow
def test_two_full_builds_have_identical_manifests(tmp_path, manifest):
    other = demo.build_demo(tmp_path)
    assert demo.load_manifest(other) == manifest


def test_cache_is_reused(demo_dir, monkeypatch):
    def fail(*a, **k):
        raise AssertionError("a complete cache must not be rebuilt")

    monkeypatch.setattr(demo, "_render_into", fail)
    assert demo.build_demo(demo_dir.parent) == demo_dir
    assert len(demo.index(None, "test", {"cache_dir": demo_dir.parent})) == 24


def _quick_render(out_dir: Path, only=None) -> dict:
    (out_dir / "videos").mkdir()
    (out_dir / "videos" / "a.mp4").write_bytes(b"x")
    return {
        "videos": [
            {
                "key": "demo/real/original/a",
                "label": 0,
                "method": "original",
                "split": "test",
                "path": "videos/a.mp4",
                "identity": "astronaut-c",
                "donor": None,
                "seed": 1,
                "frames": 50,
                "crf": 20,
                "sha256": "0",
            }
        ]
    }


def test_build_is_atomic_and_cleans_leftovers(tmp_path, monkeypatch):
    # A killed build leaves a temp dir with some videos and no manifest: it must not be mistaken
    # for a cache, must not break the next build, and gets cleaned up.
    leftover = tmp_path / f".{demo.DEMO_DIRNAME}.tmp-killed"
    (leftover / "videos").mkdir(parents=True)
    (leftover / "videos" / "half.mp4").write_bytes(b"\x00" * 10)

    def crash(out_dir, only=None):
        _quick_render(out_dir)
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "_render_into", crash)
    with pytest.raises(KeyboardInterrupt):
        demo.build_demo(tmp_path)
    assert not (tmp_path / demo.DEMO_DIRNAME).exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".demo-v1.tmp")] == []

    monkeypatch.setattr(demo, "_render_into", _quick_render)
    out = demo.build_demo(tmp_path)
    assert out == tmp_path / demo.DEMO_DIRNAME
    assert (
        json.loads((out / "manifest.json").read_text())["videos"][0]["key"]
        == "demo/real/original/a"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f".{demo.DEMO_DIRNAME}.lock",
        demo.DEMO_DIRNAME,
    ]


def test_force_rebuild_replaces_and_incomplete_dir_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "_render_into", _quick_render)
    final = tmp_path / demo.DEMO_DIRNAME
    final.mkdir()  # e.g. a directory some tool created, without a manifest: not a cache
    (final / "junk").write_text("x")
    assert demo.build_demo(tmp_path) == final
    assert not (final / "junk").exists() and (final / "manifest.json").is_file()
    (final / "marker").write_text("x")
    demo.build_demo(tmp_path)
    assert (final / "marker").exists()
    demo.build_demo(tmp_path, force=True)
    assert not (final / "marker").exists() and (final / "manifest.json").is_file()


def test_index_options_and_errors(demo_dir, monkeypatch, tmp_path):
    with pytest.raises(UnknownSplitError, match="train"):
        demo.index(demo_dir, "val", {})
    only = demo.index(demo_dir, "test", {"methods": ["faceswap"]})
    assert {i.method for i in only} == {"original", "faceswap"}
    assert len(only) == 12 + 3
    monkeypatch.setenv("DFBENCH_CACHE", str(tmp_path))
    assert demo.default_cache_root() == tmp_path
    item = demo.index(demo_dir, "train", {})[0]
    assert item.kind == "video" and item.meta["frames"] == demo.N_FRAMES


def test_contact_sheet(demo_dir, tmp_path):
    from dfbench.datasets.demo_synth.preview import contact_sheet

    out = contact_sheet(demo_dir, tmp_path / "sheet.png", per_method=1)
    sheet = cv2.imread(str(out))
    assert sheet.shape[0] >= 5 * demo.FRAME_SIZE[1]  # one row per method incl. originals


def test_registered_counts_match_the_builder():
    from dfbench.datasets.demo import EXPECTED_COUNTS
    from dfbench.registry import get_registry

    spec = get_registry().dataset("demo")
    assert {k: dict(v) for k, v in spec.expected_counts.items()} == EXPECTED_COUNTS
