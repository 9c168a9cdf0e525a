"""SPSL (DeepfakeBench's version): conversion, float64 parity with pretrainedmodels' Xception fed
DeepfakeBench's phase channel, and the batch-axis FFT quirk made explicit."""

from __future__ import annotations

import pytest
import torch
from dfb_reference import dfb_phase, dfb_xception_state, pretrainedmodels_spsl, rel_err
from dfbench_dfb.convert import spsl_from_dfb, to_dfb
from dfbench_dfb.model import phase_only
from dfbench_dfb.spec import SPSL

from dfbench.errors import CheckpointMismatchError


@pytest.fixture(scope="module")
def spsl_ref():
    return pretrainedmodels_spsl(seed=4)


@pytest.mark.acceptance
def test_spsl_parity_float64_image_by_image(spsl_ref):
    det = SPSL.build("default").double().eval()
    det.net.load_state_dict(spsl_from_dfb(dfb_xception_state(spsl_ref)).state_dict())
    x = det.example_input(batch=2, seed=3)
    z = (x.double() / 255 - 0.5) / 0.5
    with torch.no_grad():
        ours = det(x).double()
        # DeepfakeBench's forward, one image at a time (its FFT spans the batch axis, see below)
        ref = torch.cat([spsl_ref(torch.cat([z[i:i + 1], dfb_phase(z[i:i + 1])], 1)) for i in range(2)])
    assert rel_err(ours, ref[:, 1] - ref[:, 0]) <= 1e-6


def test_phase_channel_is_per_image_and_equals_dfb_at_batch_one():
    z = torch.rand(3, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    ours = phase_only(z)
    for i in range(3):
        assert torch.allclose(ours[i:i + 1], dfb_phase(z[i:i + 1]), atol=1e-12)
    # DeepfakeBench's fftn also runs over the batch axis: a batched call mixes the images.
    assert not torch.allclose(dfb_phase(z), ours, atol=1e-6)


def test_spsl_checkpoint_needs_the_four_channel_stem():
    three = to_dfb(SPSL.build("test").net)
    three["backbone.conv1.weight"] = three["backbone.conv1.weight"][:, :3]
    with pytest.raises(CheckpointMismatchError, match=r"backbone.conv1.weight: \[8, 3, 3, 3\] vs \[8, 4, 3, 3\]"):
        spsl_from_dfb(three, variant="test")
    net = SPSL.build("test").net.double().eval()
    back = spsl_from_dfb(to_dfb(net), variant="test")
    x = torch.rand(2, 4, 48, 48, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(net(x), back(x))
