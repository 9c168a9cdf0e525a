"""UnivFD: parity of the whole detector with open_clip's own CLIP forward (tiny ViT, float64),
checkpoint conversion (probe only / full), errors, and the CLIP centre-crop preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dfbench_univfd import convert
from dfbench_univfd.convert import from_official
from dfbench_univfd.crop import CenterCropper
from dfbench_univfd.spec import CLIP_MEAN, CLIP_STD, SPEC, TINY

from dfbench.errors import CheckpointMismatchError

open_clip = pytest.importorskip("open_clip")


@pytest.fixture(scope="module")
def reference():
    """open_clip's complete CLIP model (tiny config, QuickGELU, float64, random weights) and a probe."""
    text = {"context_length": 8, "vocab_size": 64, "width": 16, "heads": 2, "layers": 1}
    g = torch.manual_seed(0)
    clip = open_clip.model.CLIP(TINY["embed_dim"], TINY["vision_cfg"], text, quick_gelu=True).double().eval()
    with torch.no_grad():
        for p in clip.visual.parameters():  # break the default init's symmetries (zero biases etc.)
            p.add_(0.02 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    fc = torch.nn.Linear(TINY["embed_dim"], 1).double()
    return clip, fc


def _released(fc) -> dict:
    return {"weight": fc.weight.detach().clone(), "bias": fc.bias.detach().clone()}


def test_detector_logits_match_open_clip_forward_float64(reference):
    clip, fc = reference
    clip_state = {k: v for k, v in clip.state_dict().items() if k.startswith("visual.")}
    det = SPEC.build("test").double().eval()
    det.net.load_state_dict(from_official(_released(fc), variant="test", clip_state=clip_state).state_dict())
    x = det.example_input(batch=3, seed=2)
    with torch.no_grad():
        ours = det(x).double()
        z = (x.double() / 255 - torch.tensor(CLIP_MEAN, dtype=torch.float64).view(1, 3, 1, 1)) \
            / torch.tensor(CLIP_STD, dtype=torch.float64).view(1, 3, 1, 1)
        ref = fc(clip.encode_image(z))[:, 0]
    assert float(((ours - ref).abs() / ref.abs().clamp_min(1e-12)).max()) <= 1e-6
    assert ref.std() > 1e-4


def test_full_official_state_dict_and_errors(reference):
    clip, fc = reference
    full = {"model." + k: v for k, v in clip.state_dict().items() if k.startswith("visual.")}
    full.update({"fc.weight": fc.weight.detach(), "fc.bias": fc.bias.detach()})
    net = from_official(full, variant="test")
    assert torch.equal(net.visual.proj, clip.visual.proj) and not net.training
    broken = dict(full)
    del broken["model.visual.ln_post.weight"]
    broken["fc.weight"] = torch.zeros(2, TINY["embed_dim"], dtype=torch.float64)
    with pytest.raises(CheckpointMismatchError) as err:
        from_official(broken, variant="test")
    assert "visual.ln_post.weight" in err.value.missing and any("fc.weight" in m for m in err.value.mismatched)


def test_probe_only_takes_the_encoder_from_open_clip(monkeypatch, reference):
    clip, fc = reference
    calls = []

    def fake_openai():
        calls.append(1)
        return {k: v for k, v in clip.state_dict().items() if k.startswith("visual.")}

    monkeypatch.setattr(convert, "openai_visual_state", fake_openai)
    net = from_official(_released(fc), variant="test")
    assert calls and torch.equal(net.fc.weight, fc.weight)


def test_default_is_clip_preprocessing_and_face_crop_is_an_option():
    d, f = SPEC.variant("default").input, SPEC.variant("face").input
    assert (d.size, d.cropper, d.mean, d.std) == (224, "clip_center", CLIP_MEAN, CLIP_STD)
    assert f.cropper == "dlib_align" and f.crop_settings == {"scale": 1.3}
    assert SPEC.variant("default").config["vision_cfg"]["patch_size"] == 14


def test_center_cropper_is_clip_resize_then_centre_crop():
    from PIL import Image

    frame = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    out = CenterCropper()(frame[None], 224)
    crop = out.crops[0]
    assert crop.shape == (224, 224, 3) and out.n_faces == [1]
    want = np.asarray(Image.fromarray(frame).resize((298, 224), Image.BICUBIC))[:, 37:261]
    assert np.array_equal(crop, want)
    tall = CenterCropper()(frame.transpose(1, 0, 2)[None].copy(), 32).crops[0]
    assert tall.shape == (32, 32, 3)
    assert CenterCropper().recipe()["face_detection"] is None
