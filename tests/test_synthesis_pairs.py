"""The pseudo-fake pair dataset of the core generator (``dfbench.synthesis.pairs``): per-epoch
frame sampling, hold-out by video, family targets and the reals-then-fakes batch.

The first two tests moved here from the LAA-Net plugin with the code they test.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch

from dfbench.synthesis.pairs import (
    FaceVideo,
    PairDataset,
    collate_pairs,
    holdout,
    load_npz_dir,
    make_generator,
    portrait_videos,
    save_npz_dir,
)
from dfbench.training.data import TrainingDataError


def _videos(n_videos=3, n_frames=10):
    rng = np.random.default_rng(0)
    lm = np.zeros((68, 2), np.float32)
    return [FaceVideo(f"v{v}", [rng.integers(0, 255, (8, 8, 3), dtype=np.uint8) for _ in range(n_frames)],
                      [lm] * n_frames) for v in range(n_videos)]


def test_frames_are_resampled_every_epoch_without_replacement():
    ds = PairDataset(_videos(), generator=None, frames_per_video=4, seed=1)
    e0 = sorted(ds.items)
    ds.set_epoch(1)
    e1 = sorted(ds.items)
    ds.set_epoch(0)
    assert sorted(ds.items) == e0 and e0 != e1
    for items in (e0, e1):
        for v in range(3):
            frames = [f for vv, f in items if vv == v]
            assert len(frames) == 4 == len(set(frames))
    val = PairDataset(_videos(), generator=None, frames_per_video=4, seed=1, train=False)
    first = list(val.items)
    val.set_epoch(5)
    assert val.items == first  # validation frames never change


def test_holdout_is_deterministic_and_disjoint():
    vids = _videos(8, 1)
    tr, va = holdout(vids, 0.25)
    tr2, va2 = holdout(list(reversed(vids)), 0.25)
    assert len(va) == 2 and {v.key for v in va} == {v.key for v in va2}
    assert not {v.key for v in tr} & {v.key for v in va}


@pytest.fixture(scope="module")
def portraits():
    return portrait_videos(2, frames=3, size=96, seed=0)


def test_family_targets_ride_along_without_changing_the_pairs(portraits):
    """``targets=`` adds a family's per-pair maps (LAA-Net's heatmaps) and draws no randomness:
    the pairs are the same with or without it, and the batch zeroes the reals' targets."""
    gen = make_generator("sbi", portraits, 64, train=True)
    calls = []

    def targets(pair):
        calls.append(pair.info["hull"])
        return {"mask": torch.from_numpy(pair.mask)[None]}

    plain = PairDataset(portraits, gen, 2, seed=3)
    with_t = PairDataset(portraits, gen, 2, seed=3, targets=targets)
    a, b = [plain[i] for i in range(len(plain))], [with_t[i] for i in range(len(with_t))]
    assert set(a[0]) == {"real", "fake"} and set(b[0]) == {"real", "fake", "mask"}
    assert len(calls) == len(b) == 4
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x["real"], y["real"]) and torch.equal(x["fake"], y["fake"])
        assert x["real"].shape == (3, 64, 64) and x["real"].dtype == torch.uint8
    assert not all(torch.equal(x["real"], x["fake"]) for x in a)  # a pseudo-fake differs from its real
    batch = collate_pairs(b)
    assert batch["labels"].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert batch["images"].shape == (8, 3, 64, 64) and batch["mask"].shape == (8, 1, 16, 16)
    assert batch["mask"][:4].abs().sum() == 0 and batch["mask"][4:].sum() > 0
    assert torch.equal(batch["images"][4:], torch.stack([it["fake"] for it in b]))
    assert set(collate_pairs(a)) == {"images", "labels"}


def test_a_sample_depends_only_on_seed_epoch_and_index(portraits):
    """Exact resume and identical DDP shards need items that are pure functions of their index."""
    gen = make_generator("sbi", portraits, 64, train=True)
    ds = PairDataset(portraits, gen, 2, seed=5)
    ds.set_epoch(2)
    first = ds[3]
    ds.set_epoch(1)
    ds[0]
    ds.set_epoch(2)
    again = PairDataset(portraits, gen, 2, seed=5)
    again.set_epoch(2)
    for other in (ds[3], again[3]):
        assert torch.equal(first["fake"], other["fake"]) and torch.equal(first["real"], other["real"])


def test_npz_round_trip_and_clear_errors(tmp_path, portraits):
    save_npz_dir(portraits, tmp_path / "npz")
    back = load_npz_dir(tmp_path / "npz")
    assert [v.key for v in back] == [v.key.replace("/", "__") for v in portraits]
    np.testing.assert_array_equal(back[1].frames[2], portraits[1].frames[2])
    with pytest.raises(TrainingDataError, match="no .npz videos"):
        load_npz_dir(tmp_path / "empty")
    with pytest.raises(TrainingDataError, match="no training faces"):
        PairDataset([], None, 2)
    with pytest.raises(TrainingDataError, match="unknown pseudo-fake method 'xy'"):
        make_generator("xy", portraits, 64, train=True)


def test_pseudo_fake_configs_refuse_the_test_split_for_selection():
    """The core's data section of LAA-Net's and SBI's configs: selection never reads test data; a
    fraction of train held out (``holdout:F``) or a validation split is fine."""
    from dfbench.synthesis.task import PairDataConfig
    from dfbench.training.config import ConfigError

    PairDataConfig(val_split="val").check_selection_split()
    PairDataConfig(val_split="holdout:0.2").check_selection_split()
    with pytest.raises(ConfigError, match="data.val_split"):
        PairDataConfig(val_split="test").check_selection_split()


def test_pair_micro_batches_keep_each_real_with_its_fake():
    from dfbench.synthesis.task import pair_micro_batches

    b = 5  # pairs: rows 0..4 reals, 5..9 their fakes
    batch = {"images": torch.arange(2 * b).float(), "labels": torch.cat([torch.zeros(b), torch.ones(b)])}
    parts = pair_micro_batches(batch, 2)
    assert [len(p["images"]) for p in parts] == [4, 6]
    for p in parts:
        n = len(p["images"]) // 2
        assert torch.equal(p["images"][n:], p["images"][:n] + b)  # row i's fake is row B + i
        assert p["labels"].sum() == n
    assert sorted(torch.cat([p["images"] for p in parts]).tolist()) == list(range(2 * b))
