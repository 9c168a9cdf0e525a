"""`dfbench predict --explain` writes files a person can look at, for each kind of explanation."""

import json

import pytest
from click.testing import CliRunner

from dfbench.cli import cli
from dfbench.registry import get_registry


def _demo_video(kind: str = "real"):
    from dfbench.datasets.demo import index

    items = index(None, "test")
    return next(it.path for it in items if (it.label == 1) == (kind == "fake"))


@pytest.mark.parametrize("detector,expect", [
    ("lipforensics_test_ta", "frame_weights"),
    ("recce_test", "reconstructions"),
    ("laanet_test", "heatmaps"),
])
def test_predict_explain_writes_plots_and_maps(tmp_path, detector, expect):
    family = detector.split("_")[0]
    if family not in get_registry().detectors:
        pytest.skip(f"{family} plugin not installed")
    # The *_test variants are untrained: the explanation plumbing is what is tested here.
    res = CliRunner().invoke(cli, ["predict", _demo_video("fake"), "-d", detector, "--explain", str(tmp_path),
                                   "--allow-untrained", "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.output)[0]
    assert row["p_fake"] is not None and row["units"] >= 1
    exp = row["explanations"]
    assert expect in exp
    out = tmp_path / next(p.name for p in tmp_path.iterdir())
    assert (out / "scores.png").stat().st_size > 1000
    if expect == "heatmaps":
        assert (out / "heatmap.mp4").stat().st_size > 0 and len(list(out.glob("heatmap_*.png"))) == row["units"]
    if expect == "reconstructions":
        assert len(list(out.glob("face_*.png"))) == row["units"]
    if expect == "frame_weights":
        import numpy as np

        w = np.asarray(exp["frame_weights"])
        assert np.allclose(w.sum(axis=1), 1.0, atol=1e-5)
