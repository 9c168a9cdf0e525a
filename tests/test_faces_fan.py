"""FAN parity in float64 against the face-alignment package's network, crop and decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfbench.errors import CheckpointMismatchError, WeightsError
from dfbench.faces import fan

fa_fan = pytest.importorskip("face_alignment.models.fan")
fa_utils = pytest.importorskip("face_alignment.utils")


def randomize(net: torch.nn.Module, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, v in net.state_dict().items():
        if not v.is_floating_point():
            sd[k] = v
        elif k.endswith("running_var"):
            sd[k] = 0.5 + torch.rand(v.shape, generator=g, dtype=torch.float64)
        elif k.endswith(("running_mean", "bias")):
            sd[k] = 0.1 * torch.randn(v.shape, generator=g, dtype=torch.float64)
        elif v.dim() == 1:
            sd[k] = 0.8 + 0.4 * torch.rand(v.shape, generator=g, dtype=torch.float64)
        else:
            sd[k] = torch.randn(v.shape, generator=g, dtype=torch.float64) * (1.0 / v[0].numel()) ** 0.5
    return sd


def rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def test_fan_heatmaps_crop_and_points_match_face_alignment(monkeypatch):
    from skimage.data import astronaut

    # the package's decoding, interpreted instead of numba-compiled (same code, ~20 s less)
    for name in ("_get_preds_fromhm", "transform_np"):
        monkeypatch.setattr(fa_utils, name, getattr(fa_utils, name).py_func)

    ref = fa_fan.FAN(2).double().eval()
    sd = randomize(ref, 0)
    ref.load_state_dict(sd)
    ours = fan.from_official({f"module.{k}": v for k, v in sd.items()})
    assert ours.num_modules == 2
    img = astronaut()
    box = (180.0, 60.0, 300.0, 210.0)  # the astronaut's face
    centre, scale = fan.crop_box(box)
    crop = fan.crop_image(img, centre, scale)
    assert np.array_equal(crop, fa_utils.crop(img, centre, scale))
    # the network is fully convolutional: half resolution keeps float64 CPU time reasonable
    x = torch.from_numpy(crop[::2, ::2].transpose(2, 0, 1)[None].astype(np.float64) / 255.0)
    with torch.no_grad():
        want = ref(x)
        got = ours.stacks(x)
    for a, b in zip(got, want, strict=True):
        assert rel_err(a, b) <= 1e-6
    # decoding needs the 64x64 heatmaps of a 256 crop: the network's 32x32 maps, upsampled smoothly
    hm = torch.nn.functional.interpolate(want[-1], size=(64, 64), mode="bicubic", align_corners=False).numpy()
    pts_ref, frame_ref, scores_ref = fa_utils.get_preds_fromhm(hm.copy(), centre, scale)
    pts, frame, scores = fan.decode_heatmaps(hm, centre, scale)
    assert rel_err(pts, pts_ref) <= 1e-6 and rel_err(frame, frame_ref) <= 1e-6 and rel_err(scores, scores_ref) <= 1e-6
    assert len({tuple(p) for p in pts[0]}) > 10  # the synthetic peaks are spread, not one corner
    # border peaks (no sub-pixel step) decode like the package too
    edge = np.zeros((1, 2, 64, 64))
    edge[0, 0, 0, 5] = edge[0, 1, 63, 63] = 1.0
    assert np.array_equal(fan.decode_heatmaps(edge)[0], fa_utils.get_preds_fromhm(edge, None, None)[0])



def test_fan_errors_name_the_fix(monkeypatch, tmp_path):
    with pytest.raises(CheckpointMismatchError, match="FAN"):
        fan.from_official({"conv1.weight": torch.zeros(64, 3, 7, 7)})
    monkeypatch.delenv("DFBENCH_FAN", raising=False)
    with pytest.raises(WeightsError, match="DFBENCH_FAN.*2DFAN4"):
        fan.load_fan()
    torch.save(fan.FAN(1).state_dict(), tmp_path / "2DFAN4-11f355bf06.pth.tar")
    net, mf = fan.load_fan(str(tmp_path))
    assert net.num_modules == 1 and mf.path.name.startswith("2DFAN4")
