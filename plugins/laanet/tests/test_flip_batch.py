"""The flip test: the crops and their mirrors in two passes of the same batch shape, so a video's logits
stay independent of its batch mates (one forward over [x, mirror(x)] did not: see dfbench.pipeline)."""

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
def test_flip_test_is_two_passes_of_one_shape_and_keeps_the_logits(det, channels_last):
    import copy

    from dfbench.pipeline import ModelStage
    from dfbench.precision import calibration_units

    units = calibration_units(det, 6)
    stage = ModelStage(copy.deepcopy(det), flip_test=True, channels_last=channels_last, batch_size=4)
    batches = []
    stage.model.register_forward_hook(lambda m, inp, out: batches.append(inp[0].shape[0]))
    got = stage.logits(units)
    assert batches == [4, 4, 2, 2]  # 4 crops then their 4 mirrors, then 2 + 2
    ref = _two_pass(stage.detector, units, channels_last)
    np.testing.assert_array_equal(got, ref)


def test_flip_logits_do_not_move_with_the_position_in_the_batch(det):
    import copy

    from dfbench.pipeline import ModelStage
    from dfbench.precision import calibration_units

    units = calibration_units(det, 8)
    stage = ModelStage(copy.deepcopy(det), flip_test=True, batch_size=4)
    first = stage.logits(units[:4])
    shifted = stage.logits(np.concatenate([units[4:6], units[:2]]))
    np.testing.assert_array_equal(first[:2], shifted[2:])
