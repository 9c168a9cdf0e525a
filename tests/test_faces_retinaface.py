"""RetinaFace parity in float64 against the PyPI packages' own code (synthetic weights).

References: the ``retinaface-pytorch`` package (ResNet-50 network, priors, box/landmark decoding;
its ``predict_single`` needs albumentations, so its steps are restated from the imported
functions + torchvision's NMS it calls) and the ``face-alignment`` package's copy of the
``Pytorch_Retinaface`` MobileNet-0.25 network and its ``py_cpu_nms`` (the release's NMS).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfbench.errors import CheckpointMismatchError, WeightsError
from dfbench.faces import retinaface as rf

ternaus_net = pytest.importorskip("retinaface.network")
ternaus_box = pytest.importorskip("retinaface.box_utils")
ternaus_prior = pytest.importorskip("retinaface.prior_box")
fa_net = pytest.importorskip("face_alignment.detection.retinaface.net_retinaface")
fa_box = pytest.importorskip("face_alignment.detection.retinaface.box_utils")


def rel_err(a, b) -> float:
    """max |a - b| / max |b| (norm-wise relative error)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)) if b.size else 0.0


def randomize(net: torch.nn.Module, seed: int, head_gain: float = 1.0) -> dict:
    """Synthetic weights incl. BN statistics, scaled so activations neither vanish nor explode."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, v in net.state_dict().items():
        if not v.is_floating_point():
            sd[k] = v
        elif k.endswith("running_var"):
            sd[k] = 0.5 + torch.rand(v.shape, generator=g, dtype=torch.float64)
        elif k.endswith(("running_mean", "bias")):
            sd[k] = 0.1 * torch.randn(v.shape, generator=g, dtype=torch.float64)
        elif v.dim() == 1:  # BN weight
            sd[k] = 0.8 + 0.4 * torch.rand(v.shape, generator=g, dtype=torch.float64)
        else:
            fan_in = v[0].numel()
            sd[k] = torch.randn(v.shape, generator=g, dtype=torch.float64) * (1.0 / fan_in) ** 0.5
            if "Head" in k:  # keep scores off 0/1 (no ties) and boxes within a few image sizes
                sd[k] = sd[k] * head_gain
    return sd


def ternaus_reference():
    return ternaus_net.RetinaFace(name="Resnet50", pretrained=False,
                                  return_layers={"layer2": 1, "layer3": 2, "layer4": 3},
                                  in_channels=256, out_channels=256)


def astronaut(size: int | None = None) -> np.ndarray:
    import cv2
    from skimage.data import astronaut as load

    img = load()
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA) if size else img


def bgr_input(rgb: np.ndarray) -> torch.Tensor:
    x = rgb[..., ::-1].astype(np.float64) - np.array(rf.BGR_MEAN)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def release_nms(dets, thresh):
    """The release's utils/nms/py_cpu_nms.py (Fast R-CNN's): pixel-inclusive sides (+1).

    face-alignment's copy of it dropped the +1; that variant is checked separately.
    """
    x1, y1, x2, y2, scores = dets.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order, keep = scores.argsort()[::-1], []
    while order.size:
        i = order[0]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[order[1:]]) - np.maximum(x1[i], x1[order[1:]]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[order[1:]]) - np.maximum(y1[i], y1[order[1:]]) + 1)
        ovr = w * h / (areas[i] + areas[order[1:]] - w * h)
        order = order[np.where(ovr <= thresh)[0] + 1]
    return keep


def official_postprocess(loc, conf, landms, h, w, confidence=0.02, nms=0.4, top_k=5000, keep_top_k=750,
                         nms_fn=release_nms):
    """detect.py of the release, restated with the packages' decode + py_cpu_nms, in float64."""
    priors = torch.from_numpy(np.asarray(ternaus_prior.priorbox(
        min_sizes=[[16, 32], [64, 128], [256, 512]], steps=[8, 16, 32], clip=False, image_size=(h, w)),
        np.float64))
    boxes = ternaus_box.decode(loc[0], priors, [0.1, 0.2]) * torch.tensor([w, h, w, h], dtype=torch.float64)
    pts = ternaus_box.decode_landm(landms[0], priors, [0.1, 0.2]) * torch.tensor([w, h] * 5, dtype=torch.float64)
    boxes, pts, scores = boxes.numpy(), pts.numpy(), conf[0, :, 1].numpy()
    inds = np.where(scores > confidence)[0]
    boxes, pts, scores = boxes[inds], pts[inds], scores[inds]
    order = scores.argsort()[::-1][:top_k]
    boxes, pts, scores = boxes[order], pts[order], scores[order]
    dets = np.hstack([boxes, scores[:, None]])
    keep = nms_fn(dets, nms)
    return np.concatenate([dets[keep][:keep_top_k], pts[keep][:keep_top_k]], 1)


def test_resnet50_parity_with_retinaface_pytorch_on_a_real_photo():
    ref = ternaus_reference().double().eval()
    sd = randomize(ref, 0, head_gain=0.02)
    ref.load_state_dict(sd)
    ours = rf.from_official({f"module.{k}": v for k, v in sd.items()}, "resnet50").double()
    x = bgr_input(astronaut(256))
    with torch.no_grad():
        loc_r, conf_r, land_r = ref(x)
        loc, conf, land = ours(x)
    conf_r = torch.softmax(conf_r, -1)
    for a, b in ((loc, loc_r), (conf, conf_r), (land, land_r)):
        assert rel_err(a, b) <= 1e-6
    # the official detect.py steps (release NMS) and the package's predict_jsons steps
    dets = rf.postprocess(loc[0], conf[0], land[0], (256, 256))  # unbatched -> one array
    want = official_postprocess(loc_r, conf_r, land_r, 256, 256)
    assert len(want) > 5 and dets.shape == want.shape and rel_err(dets, want) <= 1e-6
    from torchvision.ops import nms

    priors = ternaus_prior.priorbox(min_sizes=[[16, 32], [64, 128], [256, 512]], steps=[8, 16, 32], clip=False,
                                    image_size=(256, 256)).double()
    boxes = ternaus_box.decode(loc_r[0], priors, [0.1, 0.2]) * 256
    pts = ternaus_box.decode_landm(land_r[0], priors, [0.1, 0.2]) * 256
    scores = conf_r[0, :, 1]
    valid = torch.where(scores > 0.7)[0]
    keep = nms(boxes[valid], scores[valid], 0.4)
    want_pkg = torch.cat([boxes[valid][keep], scores[valid][keep, None], pts[valid][keep]], 1).numpy()
    got_pkg = rf.postprocess(loc, conf, land, (256, 256), 0.7, 0.4, None, None, plus_one=False)[0]
    assert len(want_pkg) > 0 and rel_err(got_pkg, want_pkg) <= 1e-6


def test_mobilenet_parity_with_the_release_network_and_nms_batched():
    ref = fa_net.RetinaFace().double().eval()
    sd = randomize(ref, 1, head_gain=0.02)
    ref.load_state_dict(sd)
    ours = rf.from_official({f"module.{k}": v for k, v in sd.items()}, "mobilenet0.25").double()
    img = astronaut()
    x = torch.cat([bgr_input(img), bgr_input(img[:, ::-1])])  # a batch of two different images
    with torch.no_grad():
        loc, conf, land = ours(x)
        for b in range(2):
            loc_r, conf_r, land_r = ref(x[b:b + 1])
            assert max(rel_err(loc[b:b + 1], loc_r), rel_err(conf[b:b + 1], conf_r),
                       rel_err(land[b:b + 1], land_r)) <= 1e-6
            got = rf.postprocess(loc, conf, land, (512, 512))[b]
            want = official_postprocess(loc_r, conf_r, land_r, 512, 512)
            assert len(want) > 5 and got.shape == want.shape and rel_err(got, want) <= 1e-6
            got = rf.postprocess(loc, conf, land, (512, 512), 0.5, plus_one=False)[b]
            want = official_postprocess(loc_r, conf_r, land_r, 512, 512, 0.5, nms_fn=fa_box.py_cpu_nms)
            assert len(want) > 5 and got.shape == want.shape and rel_err(got, want) <= 1e-6


def test_prior_boxes_equal_the_package_on_a_non_square_image():
    want = ternaus_prior.priorbox(min_sizes=[[16, 32], [64, 128], [256, 512]], steps=[8, 16, 32], clip=False,
                                  image_size=(200, 333))
    got = rf.prior_boxes((200, 333), dtype=torch.float32)
    assert got.shape == want.shape and torch.equal(got, want)


def test_detector_finds_boxes_in_frame_pixels_for_both_conventions():
    net = rf.RetinaFace("mobilenet0.25")
    net.load_state_dict({k: v.float() for k, v in randomize(net, 2).items()})
    frames = np.stack([astronaut(160)] * 2)
    det = rf.RetinaFaceDetector(net, confidence=0.3)
    a, b = det.detect(frames)
    assert len(a) > 0 and [d.box for d in a] == [d.box for d in b]
    assert a[0].landmarks.shape == (5, 2) and det.recipe()["detector"] == "retinaface_mobilenet0.25"
    small = rf.RetinaFaceDetector(net, convention="retinaface_pytorch", max_size=80, confidence=0.3).detect(frames[:1])[0]
    assert small and max(d.box[2] for d in small) > 80  # boxes mapped back to the 160-px frame
    assert all(d.box[0] < 159 and d.box[1] < 159 for d in small)  # the package drops boxes outside the image
    assert rf._inside((10, 10, 50, 50), 160, 160) and not rf._inside((170, 10, 200, 50), 160, 160)


def test_wrong_checkpoints_and_missing_weights_give_clear_errors(tmp_path, monkeypatch):
    sd = rf.RetinaFace("mobilenet0.25").state_dict()
    plain = rf.from_official(sd, "mobilenet0.25")  # the package layout: no prefix
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), sd.values(), strict=True))
    with pytest.raises(CheckpointMismatchError, match="resnet50"):
        rf.from_official(sd, "resnet50")
    monkeypatch.delenv("DFBENCH_RETINAFACE_R50", raising=False)
    with pytest.raises(WeightsError, match="DFBENCH_RETINAFACE_R50.*Resnet50_Final.pth"):
        rf.load_retinaface(None, "resnet50")
    torch.save({f"module.{k}": v for k, v in sd.items()}, tmp_path / "mobilenet0.25_Final.pth")
    monkeypatch.setenv("DFBENCH_RETINAFACE_MNET", str(tmp_path))
    net, mf = rf.load_retinaface(None, "mobilenet0.25")
    assert mf.path.name == "mobilenet0.25_Final.pth" and len(mf.sha256) == 64
    (tmp_path / "evil.pth").write_bytes(b"\x80\x04cos\nsystem\n.")
    with pytest.raises(WeightsError, match="safely"):
        rf.load_retinaface(str(tmp_path / "evil.pth"), "mobilenet0.25")
