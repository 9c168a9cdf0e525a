"""Bootstrap over identity clusters (issue 12, item 6): FF++ pairs, Celeb-DF celebrities, DFD actors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from dfbench.clusters import celebdf_identities, dfd_identities, ffpp_identities, identity_clusters
from dfbench.metrics import _weighted_auc_ap, binary_metrics, paired_bootstrap_auc, video_metrics
from dfbench.specs import VideoItem


def test_identity_rules_per_dataset():
    assert ffpp_identities("000_003") == ("000", "003") and ffpp_identities("000") == ("000",)
    assert celebdf_identities("id0_id16_0003") == ("id0", "id16") and celebdf_identities("id5_0001") == ("id5",)
    assert celebdf_identities("00012") == ()  # YouTube-real: nobody named
    assert dfd_identities("01_02__exit_phone_room__YVGY8LOK") == ("01", "02")
    assert dfd_identities("01__exit_phone_room") == ("01",)
    keys = [f"ffpp_c23/real/youtube/{v}" for v in ("000", "003", "100", "200")]
    keys += [f"ffpp_c23/fake/{m}/{v}" for m in ("Deepfakes", "FaceSwap") for v in ("000_003", "003_000", "100_200")]
    found = identity_clusters("ffpp_c23", keys)
    assert found is not None
    cl, info = found
    assert info["n_clusters"] == 2 and info["unit"] == "identity cluster" and "FF++" in info["rule"]
    assert cl["ffpp_c23/real/youtube/000"] == cl["ffpp_c23/fake/FaceSwap/003_000"] != cl["ffpp_c23/real/youtube/100"]
    cdf = identity_clusters("celebdf_v2", ["celebdf_v2/real/YouTube-real/00001", "celebdf_v2/real/YouTube-real/00002",
                                           "celebdf_v2/fake/Celeb-synthesis/id1_id2_0000",
                                           "celebdf_v2/real/Celeb-real/id2_0004"])
    assert cdf[1]["n_clusters"] == 3 and cdf[1]["videos_without_identity"] == 2
    assert identity_clusters("dfdc", keys) is None and identity_clusters("demo", keys) is None
    # A dataset plugin may name identities on its records instead.
    own = identity_clusters("mine", ["a", "b", "c"], {"a": ("p1",), "b": ("p1",), "c": ("p2",)})
    assert own[1]["n_clusters"] == 2 and own[1]["rule"] == "identities supplied by the dataset plugin"


@pytest.mark.parametrize("seed", [0, 1])
def test_weighted_auc_ap_equal_sklearn_on_the_repeated_sample(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 60)
    s = np.round(rng.normal(size=60) + y, 1)  # rounded: plenty of ties
    w = rng.integers(0, 4, (5, 60))
    auc, ap = _weighted_auc_ap(y, s, w)
    for b in range(5):
        yy, ss = np.repeat(y, w[b]), np.repeat(s, w[b])
        assert auc[b] == pytest.approx(skm.roc_auc_score(yy, ss))
        assert ap[b] == pytest.approx(skm.average_precision_score(yy, ss))


def _clustered(seed=0, k=12, per=10):
    """How separable real and fake are depends on the identity: videos of one person are not
    independent evidence."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(k), per)
    y = np.tile(np.r_[np.zeros(per // 2, int), np.ones(per - per // 2, int)], k)
    s = y * rng.normal(0.8, 1.5, size=k)[cluster] + rng.normal(size=k * per) * 0.3
    return y, s, cluster


def test_cluster_bootstrap_is_wider_and_recorded():
    y, s, cluster = _clustered()
    by_video = binary_metrics(y, s, seed=0)
    by_id = binary_metrics(y, s, seed=0, clusters=list(cluster))
    assert by_video["auc"] == by_id["auc"]  # the point estimate does not change
    w_video = by_video["auc_ci95"][1] - by_video["auc_ci95"][0]
    w_id = by_id["auc_ci95"][1] - by_id["auc_ci95"][0]
    assert w_id > 1.5 * w_video
    assert by_id["bootstrap"]["unit"] == "cluster" and by_id["bootstrap"]["n_clusters"] == 12
    assert by_video["bootstrap"]["unit"] == "item"
    assert binary_metrics(y, s, seed=0, clusters=list(cluster)) == by_id  # seeded: reproducible
    keys = [f"v{i}" for i in range(len(y))]
    vm = video_metrics(keys, y, s, clusters={k: int(c) for k, c in zip(keys, cluster, strict=True)})
    assert vm["auc_ci95"] == by_id["auc_ci95"]


def test_paired_test_resamples_the_same_clusters():
    y, s, cluster = _clustered(1)
    other = s + np.random.default_rng(5).normal(size=len(s)) * 0.5
    plain = paired_bootstrap_auc(y, s, other, n=500)
    grouped = paired_bootstrap_auc(y, s, other, n=500, clusters=list(cluster))
    assert plain["auc_diff"] == grouped["auc_diff"]
    assert grouped["bootstrap_unit"] == {"unit": "cluster", "n_clusters": 12}
    assert plain["bootstrap_unit"] == {"unit": "video"}


def _ffpp_run(tmp_path, name, offset):
    """A finished FF++-keyed run directory written through finalize_run (no decoding needed)."""
    from dfbench.results import PARTIAL_FILE, finalize_run

    rng = np.random.default_rng(int(offset * 10))
    pairs = [(f"{i:03d}", f"{i + 500:03d}") for i in range(10)]
    items = []
    for a, b in pairs:
        items += [VideoItem(f"ffpp_c23/real/youtube/{v}", 0, "youtube", f"{v}.mp4") for v in (a, b)]
        items += [VideoItem(f"ffpp_c23/fake/{m}/{v}", 1, m, f"{v}.mp4") for m in ("Deepfakes", "FaceSwap")
                  for v in (f"{a}_{b}", f"{b}_{a}")]
    out = tmp_path / name
    out.mkdir()
    with open(out / PARTIAL_FILE, "w") as f:
        for it in items:
            logit = float(it.label * 1.0 + rng.normal() + offset)
            f.write(json.dumps({"key": it.key, "status": "ok", "frames": [0, 1], "logits": [logit, logit]}) + "\n")
    header = {"detector": {"id": name, "trained": True}, "dataset": {"id": "ffpp_c23", "split": "test"},
              "protocol": {"aggregation": "mean_logit"}, "protocol_hash": "0" * 16, "counts": {}}
    return out, finalize_run(out, items, header, "mean_logit")


def test_results_and_compare_use_identity_clusters(tmp_path):
    from dfbench.compare import compare_runs, format_comparison

    out_a, res = _ffpp_run(tmp_path, "a", 0.0)
    boot = res["metrics"]["video"]["bootstrap"]
    assert boot["unit"] == "identity cluster" and boot["n_clusters"] == 10 and "FF++" in boot["rule"]
    for m in ("Deepfakes", "FaceSwap"):
        row = res["per_method"][m]
        assert row["bootstrap_unit"] == "cluster" and len(row["auc_ci95"]) == 2 and len(row["ap_ci95"]) == 2
    stored = json.loads((out_a / "results.json").read_text())
    assert stored["metrics"]["video"]["bootstrap"]["unit"] == "identity cluster"
    from dfbench.leaderboard.entries import measured_block

    assert measured_block(stored)["protocol"]["bootstrap"]["n_clusters"] == 10  # the leaderboard keeps it
    out_b, _ = _ffpp_run(tmp_path, "b", 0.3)
    report = compare_runs([out_a, out_b], n_bootstrap=300)
    (pair,) = report["paired"]
    assert pair["bootstrap_unit"]["unit"] == "cluster" and pair["bootstrap_unit"]["n_clusters"] == 10
    assert "resampling 10 identity clusters" in format_comparison(report)
