"""SBI / BI pseudo-fake synthesis: shapes, pairing, determinism, hull types, neighbour search."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

from dfbench.synthesis import augment
from dfbench.synthesis.bi import (
    BIGenerator,
    FaceBank,
    NeighbourSearchError,
    nearest_neighbours,
)
from dfbench.synthesis.faces import astronaut_face, jittered_frames
from dfbench.synthesis.hulls import HULL_TYPES, hull_mask
from dfbench.synthesis.sbi import SBIGenerator, boundary_from_mask, prepare_landmarks


@pytest.fixture(scope="module")
def face():
    return astronaut_face(128)


def test_astronaut_landmarks_are_on_the_face(face):
    img, lm = face
    assert img.shape == (128, 128, 3) and lm.shape == (68, 2)
    assert (lm > 0).all() and (lm < 128).all()
    # eyes above the mouth, chin lowest
    assert lm[36:48, 1].mean() < lm[48:68, 1].mean() < lm[8, 1]


@pytest.mark.parametrize("hull", HULL_TYPES)
def test_each_hull_type_covers_the_face_centre(face, hull):
    _, lm = face
    m = hull_mask((128, 128), prepare_landmarks(lm), hull)
    assert m.dtype == np.uint8 and set(np.unique(m)) <= set(range(256))
    nose = np.round(lm[30]).astype(int)
    assert m[nose[1], nose[0]] == 255
    assert 0.1 < (m > 0).mean() < 0.9


def test_facehull_with_forehead_reaches_above_the_brows(face):
    _, lm = face
    full = hull_mask((128, 128), prepare_landmarks(lm), "facehull")
    only68 = hull_mask((128, 128), lm, "facehull")
    assert full.sum() > only68.sum()
    brow_y = int(lm[17:27, 1].min())
    assert full[: brow_y - 3].sum() > 0 and only68[: brow_y - 3].sum() == 0


def test_sbi_pair_shapes_and_boundary(face):
    img, lm = face
    gen = SBIGenerator(out_size=64)
    rng = np.random.default_rng(0)
    for _ in range(8):
        p = gen(img, lm, rng)
        assert p.real.shape == p.fake.shape == (64, 64, 3) and p.real.dtype == np.uint8
        assert p.mask.shape == p.boundary.shape == (16, 16)
        assert 0.0 <= p.mask.min() and p.mask.max() <= 1.0
        np.testing.assert_array_equal(p.boundary, boundary_from_mask(p.mask))
        # the fake differs from the real only where the mask is non-zero (plus shared JPEG noise)
        diff = np.abs(p.fake.astype(int) - p.real.astype(int)).sum(-1)
        if p.info.get("jpeg") is None and p.info.get("hull") != "none":
            far = np.kron(p.mask, np.ones((4, 4))) == 0
            assert diff[far].mean() < 2.0
            assert diff[~far].mean() > diff[far].mean()


def test_sbi_is_deterministic_under_a_seed(face):
    img, lm = face
    gen = SBIGenerator(out_size=64)
    a = gen(img, lm, np.random.default_rng(42))
    b = gen(img, lm, np.random.default_rng(42))
    c = gen(img, lm, np.random.default_rng(43))
    np.testing.assert_array_equal(a.fake, b.fake)
    np.testing.assert_array_equal(a.real, b.real)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(a.fake, c.fake)


def test_sbi_uses_all_hull_types_and_ratios(face):
    img, lm = face
    gen = SBIGenerator(out_size=64)
    rng = np.random.default_rng(1)
    infos = [gen(img, lm, rng).info for _ in range(40)]
    assert {i["hull"] for i in infos} >= set(HULL_TYPES) - {"none"}
    assert {i["ratio"] for i in infos} == {0.25, 0.5, 0.75, 1.0}


def test_boundary_ignores_blend_ratio_in_laanet_mode(face):
    img, lm = face
    laa = SBIGenerator(out_size=64, train=False)
    sbi = SBIGenerator(out_size=64, train=False, boundary_uses_ratio=True)
    seed = next(s for s in range(100)
                if laa(img, lm, np.random.default_rng(s)).info["ratio"] == 0.25)
    a, b = laa(img, lm, np.random.default_rng(seed)), sbi(img, lm, np.random.default_rng(seed))
    np.testing.assert_array_equal(a.fake, b.fake)
    assert a.mask.max() > 0.9 and b.mask.max() <= 0.25 + 1e-6


def test_sbi_rejects_bad_input(face):
    img, lm = face
    with pytest.raises(ValueError, match="uint8"):
        SBIGenerator()(img.astype(np.float32), lm, np.random.default_rng(0))
    with pytest.raises(ValueError, match="landmarks"):
        SBIGenerator()(img, lm[:10], np.random.default_rng(0))


def test_geometry_matrix_identity_and_flip():
    g = augment.Geometry()
    img = np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)
    np.testing.assert_array_equal(g.warp(img, 16), img)
    np.testing.assert_array_equal(augment.Geometry(flip=True).warp(img, 16), img[:, ::-1])


def test_blend_mask_keeps_interior_and_blurs_edges():
    m = np.zeros((100, 100), np.float32)
    m[20:80, 20:80] = 1
    out = augment.blend_mask(m, np.random.default_rng(0))
    assert out.shape == (100, 100) and out.max() == pytest.approx(1.0, abs=1e-3)
    assert out[50, 50] > 0.9 and out[2, 2] < 0.05
    assert ((out > 0.05) & (out < 0.95)).any()


def test_nearest_neighbours_exclude_same_video_and_match_bruteforce():
    rng = np.random.default_rng(0)
    lm = rng.normal(size=(30, 68, 2)).astype(np.float32)
    vids = np.repeat(np.arange(6), 5)
    nn = nearest_neighbours(lm, vids, k=4, n_candidates=None)
    assert nn.shape == (30, 4)
    for i in range(30):
        assert (vids[nn[i]] != vids[i]).all()
        d = np.linalg.norm(lm - lm[i], axis=-1).sum(-1)
        d[vids == vids[i]] = np.inf
        np.testing.assert_array_equal(nn[i], np.argsort(d, kind="stable")[:4])
    with pytest.raises(NeighbourSearchError):
        nearest_neighbours(lm, np.zeros(30), k=4)


def test_bi_pairs_from_two_videos(face, tmp_path):
    img, lm = face
    videos = [jittered_frames(img, lm, 3, seed=s) for s in range(3)]
    bank = FaceBank.from_videos(videos)
    gen = BIGenerator(bank, out_size=64, k_neighbours=3, cache_dir=str(tmp_path))
    p = gen(0, np.random.default_rng(0))
    assert p.real.shape == p.fake.shape == (64, 64, 3)
    assert p.mask.max() > 0.5 and p.boundary.max() > 128
    assert bank.video_ids[p.info["foreground"]] != bank.video_ids[0]
    assert len(list(tmp_path.glob("bi_neighbours_*.npy"))) == 1
    q = BIGenerator(FaceBank.from_videos(videos), out_size=64, k_neighbours=3,
                    cache_dir=str(tmp_path))(0, np.random.default_rng(0))
    np.testing.assert_array_equal(p.fake, q.fake)
