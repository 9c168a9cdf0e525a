"""Heatmap / consistency targets and the CornerNet radius."""

from __future__ import annotations

import numpy as np
import pytest
from dfbench_laanet.targets import (
    consistency_target,
    encode_targets,
    gaussian_radius,
    heatmap_target,
    vulnerable_points,
)

from dfbench.synthesis.sbi import boundary_from_mask


def _disc_mask(n=32, r=9.0, soft=2.0):
    yy, xx = np.mgrid[:n, :n]
    d = np.hypot(yy - n / 2 + 0.5, xx - n / 2 + 0.5)
    return np.clip((r - d) / soft + 0.5, 0, 1).astype(np.float32)


def test_boundary_is_max_at_half_and_zero_at_extremes():
    m = np.array([[0.0, 0.5, 1.0]], np.float32)
    np.testing.assert_array_equal(boundary_from_mask(m), [[0, 255, 0]])


def test_gaussian_radius_known_values():
    assert gaussian_radius(0, 0) == pytest.approx(0.0)
    r = gaussian_radius(np.array([10.0, 20.0]), np.array([10.0, 20.0]))
    assert r[1] > r[0] > 0
    # symmetric in (h, w)
    assert gaussian_radius(4, 9) == pytest.approx(gaussian_radius(9, 4))


def test_real_image_targets_are_zero():
    hm, c = encode_targets(np.zeros((16, 16), np.uint8))
    assert hm.sum() == 0 and c.sum() == 0


def test_vulnerable_points_are_quadrant_maxima():
    b = boundary_from_mask(_disc_mask())
    pts = vulnerable_points(b)
    assert len(pts) >= 4
    for r, c in pts:
        q = b[(r // 16) * 16:(r // 16 + 1) * 16, (c // 16) * 16:(c // 16 + 1) * 16]
        assert b[r, c] == q.max()
    quads = {(r // 16, c // 16) for r, c in pts}
    assert quads == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_heatmap_peaks_exactly_one_at_points_and_decays():
    b = boundary_from_mask(_disc_mask(r=10.0, soft=6.0))  # a wide band: sigma > 1 px
    hm = heatmap_target(b)
    pts = vulnerable_points(b)
    assert hm.dtype == np.float32 and hm.max() == 1.0
    assert (hm[pts[:, 0], pts[:, 1]] == 1.0).all()
    assert (hm == 1.0).sum() == len(pts)
    assert hm[16, 16] == 0.0  # the disc centre is far from the boundary
    assert ((hm > 0) & (hm < 1)).any()


def test_heatmap_matches_bruteforce_gaussians():
    b = boundary_from_mask(_disc_mask(r=10.0, soft=4.0))
    hm = heatmap_target(b)
    pts = vulnerable_points(b)
    from dfbench_laanet.targets import _runs

    v, h = _runs(b > 128)
    ref = np.zeros_like(hm)
    yy, xx = np.mgrid[:32, :32]
    for r, c in pts:
        s = gaussian_radius(h[r, c], v[r, c]) / 3 + 1e-4
        g = np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / (2 * s * s))
        g[(np.abs(yy - r) > 3 * s) | (np.abs(xx - c) > 3 * s)] = 0
        ref = np.maximum(ref, g)
    np.testing.assert_allclose(hm, ref, atol=1e-6)


def test_consistency_is_one_on_the_strongest_boundary():
    b = boundary_from_mask(_disc_mask())
    c = consistency_target(b)
    assert c.max() == pytest.approx(1.0)
    np.testing.assert_allclose(c[b == b.max()], 1.0)
    assert c[16, 16] == pytest.approx((255 - abs(int(b.max()) - int(b[16, 16]))) / 255)
    # a quadrant without boundary stays 0
    b2 = b.copy()
    b2[:16, :16] = 0
    assert consistency_target(b2)[:16, :16].sum() == 0
