"""`dfbench predict --explain` writes files a person can look at, for each kind of explanation."""

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from dfbench.cli import cli
from dfbench.registry import get_registry


def _demo_video(kind: str = "real"):
    from dfbench.datasets.demo import index

    items = index(None, "test")
    return next(it.path for it in items if (it.label == 1) == (kind == "fake"))


def _predict(tmp_path, detector: str):
    family = detector.split("_")[0]
    if family not in get_registry().detectors:
        pytest.skip(f"{family} plugin not installed")
    # The *_test variants are untrained: the explanation plumbing is what is tested here.
    res = CliRunner().invoke(cli, ["predict", _demo_video("fake"), "-d", detector, "--explain", str(tmp_path),
                                   "--allow-untrained", "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.output)[0]
    assert row["p_fake"] is not None and row["units"] >= 1
    out = tmp_path / next(p.name for p in tmp_path.iterdir())
    return row, out


def _has_colour_bar(img: np.ndarray) -> bool:
    """The right quarter of a panel holds a vertical run of the colour map from dark to bright."""
    from matplotlib import colormaps

    right = img[:, int(img.shape[1] * 0.75):, ::-1].astype(np.int16)  # BGR -> RGB
    found = []
    for v in (0.1, 0.5, 0.9):
        want = (np.array(colormaps["inferno"](v)[:3]) * 255).astype(np.int16)
        hit = np.abs(right - want).sum(axis=2) < 24
        found.append(np.nonzero(hit.any(axis=1))[0])
    # present, and stacked bottom (low values) to top (high values)
    return all(len(f) for f in found) and found[0].mean() > found[1].mean() > found[2].mean()


@pytest.mark.parametrize("detector,expect", [
    ("lipforensics_test_ta", "frame_weights"),
    ("lipforensics_test", "mouth_clips"),
    ("recce_test", "reconstructions"),
    ("laanet_test", "heatmaps"),
])
def test_predict_explain_writes_plots_and_maps(tmp_path, detector, expect):
    row, out = _predict(tmp_path, detector)
    exp = row["explanations"]
    assert expect in exp
    assert (out / "scores.png").stat().st_size > 1000
    page = (out / "explain.html").read_text()
    assert "scores.png" in page and all(f"<td>{f}</td>" in page for f in row["frames"])
    if expect == "heatmaps":
        assert (out / "heatmap.mp4").stat().st_size > 0 and len(list(out.glob("heatmap_*.png"))) == row["units"]
    if expect == "reconstructions":
        faces = sorted(out.glob("face_*.png"))
        assert len(faces) == row["units"]
        panel = cv2.imread(str(faces[0]))
        assert panel.shape[0] >= 256 and panel.shape[1] >= 3 * 256 and _has_colour_bar(panel)
        assert f'src="{faces[0].name}"' in page
    if expect == "frame_weights":
        w = np.asarray(exp["frame_weights"])
        assert np.allclose(w.sum(axis=1), 1.0, atol=1e-5)
        assert "attention weights" in page and len(list(out.glob("mouth_*.gif"))) == row["units"]
    if expect == "mouth_clips":  # a mean-pooling variant: no weights to show, no flat 1/T line
        assert "frame_weights" not in exp and "attention weights per clip" not in page


@pytest.mark.acceptance
def test_laanet_demo_explain_page_and_readable_overlays(tmp_path):
    """Issue 18: `predict VIDEO -d laanet_test.demo --explain DIR` writes explain.html and overlays of at
    least 256 px with a colour bar, the raw crop beside the overlay."""
    row, out = _predict(tmp_path, "laanet_test.demo")
    exp = row["explanations"]
    assert exp["heatmap_size"] >= 256 and "P(blending artifact)" in exp["colorbar"]
    pngs = sorted(out.glob("heatmap_*.png"))
    assert len(pngs) == row["units"]
    panel = cv2.imread(str(pngs[0]))
    assert panel.shape[0] >= 256 and panel.shape[1] >= 2 * 256  # crop | overlay, each >= 256 px
    assert _has_colour_bar(panel)
    page = (out / "explain.html").read_text()
    assert all(f'src="{p.name}"' in page for p in pngs) and "laanet_test.demo" in page


@pytest.mark.acceptance
def test_lipforensics_lite_demo_has_a_mouth_strip_and_no_attention_panel(tmp_path):
    """Issue 18: the lite (mean-pooling) variant has no attention: no weights panel; mouth crops instead."""
    from PIL import Image

    row, out = _predict(tmp_path, "lipforensics_lite.demo")
    exp = row["explanations"]
    assert "frame_weights" not in exp and exp["mouth_clips"] == row["units"]
    gifs, strips = sorted(out.glob("mouth_*.gif")), sorted(out.glob("mouth_*.png"))
    assert len(gifs) == len(strips) == row["units"]
    with Image.open(gifs[0]) as gif:
        assert gif.n_frames == 25 and min(gif.size) >= 176  # the whole clip, upscaled to be seen
    page = (out / "explain.html").read_text()
    assert f'src="{gifs[0].name}"' in page and f'src="{strips[0].name}"' in page
    assert "attention" not in page
    # scores.png has one panel (p(fake) per clip), not two: compare with the attention variant's height.
    one = cv2.imread(str(out / "scores.png")).shape[0]
    row_ta, out_ta = _predict(tmp_path / "ta", "lipforensics_lite_ta.demo")
    assert "frame_weights" in row_ta["explanations"]
    assert cv2.imread(str(out_ta / "scores.png")).shape[0] > 1.5 * one
