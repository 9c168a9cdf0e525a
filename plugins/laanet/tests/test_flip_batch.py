"""The flip test runs the crops and their mirrors in one forward and keeps the two-pass logits."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(scope="module")
def det():
    from dfbench_laanet.spec import laanet_spec

    torch.manual_seed(0)
    return laanet_spec().build("test").eval()


def _two_pass(det, units: np.ndarray, channels_last: bool) -> np.ndarray:
    x = torch.from_numpy(units)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        return (0.5 * (det(x).float() + det(torch.flip(x, dims=(-1,))).float())).numpy().astype(np.float64)


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
def test_one_forward_with_the_mirrors_keeps_the_logits(det, channels_last):
    import copy

    from dfbench.pipeline import ModelStage
    from dfbench.precision import calibration_units

    units = calibration_units(det, 6)
    stage = ModelStage(copy.deepcopy(det), flip_test=True, channels_last=channels_last, batch_size=4)
    batches = []
    stage.model.register_forward_hook(lambda m, inp, out: batches.append(inp[0].shape[0]))
    got = stage.logits(units)
    assert batches == [8, 4]  # 4 crops + 4 mirrors, then 2 + 2: one forward per batch
    ref = _two_pass(stage.detector, units, channels_last)
    np.testing.assert_array_equal(got, ref)
