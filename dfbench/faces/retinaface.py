"""RetinaFace (Deng et al., 2020) with ResNet-50 or MobileNet-0.25: network, priors, decoding, NMS.

Written from the paper and the published architecture of the ``Pytorch_Retinaface`` release
(the checkpoints LAA-Net, LipForensics and RECCE use) and of the ``retinaface-pytorch`` package
(ResNet-50 only; the checkpoint SBI and LAA-Net call). Module names follow those checkpoints'
state-dict keys so they load without renaming; :func:`from_official` also strips the release
files' ``module.`` prefix.

Two input conventions exist and are part of a detector's recipe (:data:`CONVENTIONS`):

- ``pytorch_retinaface``: BGR pixels minus (104, 117, 123), the image at its own size;
- ``retinaface_pytorch``: RGB pixels normalised with the ImageNet mean/std, the long side resized
  to ``max_size`` (SBI passes 2048 for videos).

The network's forward always returns ``(loc, softmax(conf), landms)``; decoding and NMS run
batched on the tensors' device (torchvision's NMS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointMismatchError, DfbenchError
from .weights import ModelFile, load_state_dict, resolve_model_file, strip_prefixes

BACKBONES = ("resnet50", "mobilenet0.25")
MIN_SIZES = ((16, 32), (64, 128), (256, 512))
STEPS = (8, 16, 32)
VARIANCE = (0.1, 0.2)
BGR_MEAN = (104.0, 117.0, 123.0)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CONVENTIONS = ("pytorch_retinaface", "retinaface_pytorch")
ENV = {"resnet50": "DFBENCH_RETINAFACE_R50", "mobilenet0.25": "DFBENCH_RETINAFACE_MNET"}
FILES = {
    "resnet50": ("Resnet50_Final.pth", "retinaface_resnet50_2020-07-20.pth", "model.safetensors"),
    "mobilenet0.25": ("mobilenet0.25_Final.pth", "model.safetensors"),
}
WHERE = ("the Pytorch_Retinaface release (github.com/biubug6/Pytorch_Retinaface, 'weights' Google Drive "
         "folder) or, for resnet50, the retinaface-pytorch release retinaface_resnet50_2020-07-20 "
         "(github.com/ternaus/retinaface/releases, unzip it)")


# -- network -----------------------------------------------------------------------------------

def _cbr(cin: int, cout: int, k: int, stride: int, leaky: float | None, groups: int = 1) -> nn.Sequential:
    """conv (no bias) + BN (+ LeakyReLU when ``leaky`` is not None): the release's building block."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if leaky is not None:
        layers.append(nn.LeakyReLU(leaky, inplace=True))
    return nn.Sequential(*layers)


def _dw(cin: int, cout: int, stride: int) -> nn.Sequential:
    # depthwise 3x3 then pointwise 1x1, flattened into one Sequential (keys .0-.5 as in the release)
    return nn.Sequential(*_cbr(cin, cin, 3, stride, 0.1, groups=cin), *_cbr(cin, cout, 1, 1, 0.1))


class MobileNetV1Body(nn.Module):
    """MobileNet-0.25 as RetinaFace uses it: three stages whose outputs feed the FPN."""

    def __init__(self) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(_cbr(3, 8, 3, 2, 0.1), _dw(8, 16, 1), _dw(16, 32, 2), _dw(32, 32, 1),
                                    _dw(32, 64, 2), _dw(64, 64, 1))
        self.stage2 = nn.Sequential(_dw(64, 128, 2), *[_dw(128, 128, 1) for _ in range(5)])
        self.stage3 = nn.Sequential(_dw(128, 256, 2), _dw(256, 256, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c1 = self.stage1(x)
        c2 = self.stage2(c1)
        return [c1, c2, self.stage3(c2)]


class ResNet50Body(nn.Module):
    """torchvision's ResNet-50 trunk (keys ``conv1``, ``bn1``, ``layer1..4``); layers 2-4 feed the FPN."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import resnet50

        r = resnet50(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = r.conv1, r.bn1, r.relu, r.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = r.layer1, r.layer2, r.layer3, r.layer4

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x)))))
        c2 = self.layer2(x)
        c3 = self.layer3(c2)
        return [c2, c3, self.layer4(c3)]


class FPN(nn.Module):
    def __init__(self, cins: list[int], cout: int) -> None:
        super().__init__()
        leaky = 0.1 if cout <= 64 else 0.0
        self.output1, self.output2, self.output3 = (_cbr(c, cout, 1, 1, leaky) for c in cins)
        self.merge1 = _cbr(cout, cout, 3, 1, leaky)
        self.merge2 = _cbr(cout, cout, 3, 1, leaky)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        o1, o2, o3 = self.output1(feats[0]), self.output2(feats[1]), self.output3(feats[2])
        o2 = self.merge2(o2 + F.interpolate(o3, size=o2.shape[2:], mode="nearest"))
        o1 = self.merge1(o1 + F.interpolate(o2, size=o1.shape[2:], mode="nearest"))
        return [o1, o2, o3]


class SSH(nn.Module):
    """Context module: 3x3, "5x5" (two 3x3) and "7x7" (three 3x3) branches concatenated."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        leaky = 0.1 if cout <= 64 else 0.0
        self.conv3X3 = _cbr(cin, cout // 2, 3, 1, None)
        self.conv5X5_1 = _cbr(cin, cout // 4, 3, 1, leaky)
        self.conv5X5_2 = _cbr(cout // 4, cout // 4, 3, 1, None)
        self.conv7X7_2 = _cbr(cout // 4, cout // 4, 3, 1, leaky)
        self.conv7x7_3 = _cbr(cout // 4, cout // 4, 3, 1, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.conv5X5_1(x)
        return F.relu(torch.cat([self.conv3X3(x), self.conv5X5_2(b5), self.conv7x7_3(self.conv7X7_2(b5))], 1))


class _Head(nn.Module):
    def __init__(self, cin: int, per_anchor: int, anchors: int = 2) -> None:
        super().__init__()
        self.per_anchor = per_anchor
        self.conv1x1 = nn.Conv2d(cin, anchors * per_anchor, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # [B, A*K, H, W] -> [B, H*W*A, K]: priors are ordered row, column, anchor size
        return self.conv1x1(x).permute(0, 2, 3, 1).reshape(x.shape[0], -1, self.per_anchor)


class RetinaFace(nn.Module):
    """The detector network; ``forward`` returns ``(loc [B,P,4], conf [B,P,2] softmaxed, landms [B,P,10])``."""

    def __init__(self, backbone: str = "resnet50") -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise DfbenchError(f"unknown RetinaFace backbone {backbone!r}; choose from {BACKBONES}")
        self.backbone = backbone
        if backbone == "resnet50":
            self.body: nn.Module = ResNet50Body()
            cin, cout = 256, 256
        else:
            self.body = MobileNetV1Body()
            cin, cout = 32, 64
        self.fpn = FPN([cin * 2, cin * 4, cin * 8], cout)
        self.ssh1, self.ssh2, self.ssh3 = SSH(cout, cout), SSH(cout, cout), SSH(cout, cout)
        self.ClassHead = nn.ModuleList(_Head(cout, 2) for _ in range(3))
        self.BboxHead = nn.ModuleList(_Head(cout, 4) for _ in range(3))
        self.LandmarkHead = nn.ModuleList(_Head(cout, 10) for _ in range(3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        fpn = self.fpn(self.body(x))
        feats = [self.ssh1(fpn[0]), self.ssh2(fpn[1]), self.ssh3(fpn[2])]
        loc = torch.cat([h(f) for h, f in zip(self.BboxHead, feats, strict=True)], 1)
        conf = torch.cat([h(f) for h, f in zip(self.ClassHead, feats, strict=True)], 1)
        landms = torch.cat([h(f) for h, f in zip(self.LandmarkHead, feats, strict=True)], 1)
        return loc, F.softmax(conf, dim=-1), landms


def from_official(state_dict: dict[str, Any], backbone: str) -> RetinaFace:
    """A :class:`RetinaFace` holding an official checkpoint's weights (eval mode).

    Accepts the ``Pytorch_Retinaface`` release layout (with or without ``module.``) and the
    ``retinaface-pytorch`` package's layout (the same names, ResNet-50 only). Any missing,
    unexpected or mis-shaped key is an error naming the keys.
    """
    net = RetinaFace(backbone)
    sd = strip_prefixes(state_dict)
    # the MobileNet release keeps its ImageNet classifier (body.fc / body.avg are unused here)
    sd = {k: v for k, v in sd.items() if not k.startswith(("body.fc.", "body.avg."))}
    own = net.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = sorted(k for k in set(own) & set(sd) if tuple(own[k].shape) != tuple(sd[k].shape))
    if missing or unexpected or shapes:
        raise CheckpointMismatchError(
            f"not a RetinaFace {backbone} checkpoint: {len(missing)} missing (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}), {len(shapes)} mis-shaped (e.g. {shapes[:3]}); "
            f"check the backbone ({' / '.join(BACKBONES)})"
        )
    # keep the checkpoint's precision (a float64 state dict gives a float64 network)
    dtype = next((v.dtype for v in sd.values() if torch.is_tensor(v) and v.is_floating_point()), torch.float32)
    net.to(dtype).load_state_dict(sd)
    return net.eval()


# -- priors, decoding, NMS ---------------------------------------------------------------------

def prior_boxes(image_size: tuple[int, int], *, device: Any = None, dtype: torch.dtype = torch.float32
                ) -> torch.Tensor:
    """Anchors ``[P, 4]`` as (cx, cy, w, h) relative to ``image_size = (H, W)``, in head order."""
    h, w = image_size
    out = []
    for step, sizes in zip(STEPS, MIN_SIZES, strict=True):
        fh, fw = math.ceil(h / step), math.ceil(w / step)
        cy = (torch.arange(fh, device=device, dtype=torch.float64) + 0.5) * step / h
        cx = (torch.arange(fw, device=device, dtype=torch.float64) + 0.5) * step / w
        gy, gx = torch.meshgrid(cy, cx, indexing="ij")
        per = [torch.stack([gx, gy, torch.full_like(gx, s / w), torch.full_like(gx, s / h)], -1) for s in sizes]
        out.append(torch.stack(per, 2).reshape(-1, 4))
    return torch.cat(out).to(dtype)


def decode_boxes(loc: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """Offsets ``[..., P, 4]`` -> corner boxes (x0, y0, x1, y1) relative to the image."""
    centre = priors[..., :2] + loc[..., :2] * VARIANCE[0] * priors[..., 2:]
    size = priors[..., 2:] * torch.exp(loc[..., 2:] * VARIANCE[1])
    return torch.cat([centre - size / 2, centre + size / 2], -1)


def decode_landmarks(landms: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """Offsets ``[..., P, 10]`` -> five (x, y) points relative to the image, flattened."""
    pts = landms.unflatten(-1, (5, 2))
    return (priors[..., None, :2] + pts * VARIANCE[0] * priors[..., None, 2:]).flatten(-2)


def nms_indices(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, *, plus_one: bool = True) -> torch.Tensor:
    """Greedy NMS; indices in decreasing score order.

    ``plus_one``: the release's NMS counts box sides as ``x1 - x0 + 1`` (pixel-inclusive); shifting
    the far corner by one and running torchvision's NMS gives exactly that overlap, on any device.
    """
    from torchvision.ops import nms as tv_nms

    if plus_one:
        boxes = torch.cat([boxes[:, :2], boxes[:, 2:] + 1], 1)
    return tv_nms(boxes, scores, threshold)


def postprocess(loc: torch.Tensor, conf: torch.Tensor, landms: torch.Tensor, image_size: tuple[int, int],
                confidence: float = 0.02, nms: float = 0.4, top_k: int | None = 5000,
                keep_top_k: int | None = 750, *, resize: float = 1.0, plus_one: bool = True
                ) -> list[np.ndarray] | np.ndarray:
    """The release's ``detect.py`` post-processing: detections ``[N, 15]`` per image.

    Columns: x0, y0, x1, y1, score, then five (x, y) landmarks, in pixels of the original image
    (``image_size = (H, W)`` of the network input, ``resize`` the factor applied to the image
    before the network). Steps: decode against the priors; keep scores > ``confidence``; the
    ``top_k`` best; NMS at ``nms`` (pixel-inclusive overlap); the first ``keep_top_k``.
    Unbatched inputs (``loc [P, 4]``) give one array; batched (``[B, P, 4]``) a list.
    The ``retinaface-pytorch`` package's own steps are ``top_k=None, keep_top_k=None,
    plus_one=False`` (no limits, torchvision's overlap) with its ``confidence`` (0.7 by default).
    """
    if loc.dim() == 2:
        return postprocess(loc[None], conf[None], landms[None], image_size, confidence, nms, top_k, keep_top_k,
                           resize=resize, plus_one=plus_one)[0]
    h, w = image_size
    priors = prior_boxes((h, w), device=loc.device, dtype=loc.dtype)
    scale = torch.tensor([w, h], device=loc.device, dtype=loc.dtype)
    boxes = (decode_boxes(loc, priors).unflatten(-1, (2, 2)) * scale).flatten(-2) / resize
    pts = (decode_landmarks(landms, priors).unflatten(-1, (5, 2)) * scale).flatten(-2) / resize
    scores = conf[..., 1]
    out = []
    for b in range(loc.shape[0]):
        idx = torch.nonzero(scores[b] > confidence).flatten()
        order = idx[torch.argsort(scores[b, idx], descending=True, stable=True)][:top_k]
        bx, sc, lm = boxes[b, order], scores[b, order], pts[b, order]
        keep = nms_indices(bx, sc, nms, plus_one=plus_one)[:keep_top_k]
        out.append(torch.cat([bx[keep], sc[keep, None], lm[keep]], 1).detach().cpu().numpy())
    return out


# -- a ready detector --------------------------------------------------------------------------

@dataclass(frozen=True)
class Detection:
    """One face: box (x0, y0, x1, y1) and score in frame pixels, five landmarks ``[5, 2]``
    (left eye, right eye, nose, left and right mouth corner, in image left-to-right order)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray


def load_retinaface(source: str | None = None, backbone: str = "resnet50") -> tuple[RetinaFace, ModelFile]:
    """Network + file info from a path / ``$DFBENCH_RETINAFACE_R50|MNET`` / ``hf://``."""
    if backbone not in BACKBONES:
        raise DfbenchError(f"unknown RetinaFace backbone {backbone!r}; choose from {BACKBONES}")
    mf = resolve_model_file(source, env=ENV[backbone], candidates=FILES[backbone],
                            what=f"RetinaFace {backbone}", where=WHERE)
    return from_official(load_state_dict(mf.path, what=f"RetinaFace {backbone}"), backbone), mf


class RetinaFaceDetector:
    """Batched RetinaFace on RGB uint8 frames -> :class:`Detection` lists, with the recipe it ran.

    ``convention`` picks the input normalisation the checkpoint was trained with (see the module
    docstring); ``max_size`` (``retinaface_pytorch`` only) resizes the long side as that
    package does. Frames of one size are stacked into one batch on ``device``.
    """

    def __init__(self, net: RetinaFace, *, convention: str = "pytorch_retinaface", confidence: float = 0.02,
                 nms_threshold: float = 0.4, max_size: int | None = None, device: str = "cpu",
                 weights: ModelFile | None = None, batch_size: int = 8):
        if convention not in CONVENTIONS:
            raise DfbenchError(f"unknown RetinaFace input convention {convention!r}; choose from {CONVENTIONS}")
        self.net = net.to(device).eval()
        self.convention, self.confidence, self.nms_threshold = convention, float(confidence), float(nms_threshold)
        self.max_size, self.device, self.weights, self.batch_size = max_size, device, weights, int(batch_size)

    def recipe(self) -> dict[str, Any]:
        return {"detector": f"retinaface_{self.net.backbone}", "convention": self.convention,
                "confidence": self.confidence, "nms": self.nms_threshold, "max_size": self.max_size,
                "detector_weights_sha256": self.weights.sha256 if self.weights else None}

    def _prepare(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        import cv2

        img, resize = frame, 1.0
        if self.convention == "retinaface_pytorch":
            if self.max_size:
                h, w = frame.shape[:2]
                resize = self.max_size / max(h, w)
                size = (int(round(w * resize)), int(round(h * resize)))
                if size != (w, h):
                    img = cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)
                # the package maps back with the height ratio of the resized image, not max_size/long side
                resize = img.shape[0] / h
            x = (img.astype(np.float32) / 255.0 - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
        else:
            x = img[..., ::-1].astype(np.float32) - np.array(BGR_MEAN, np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1)), resize

    @torch.no_grad()
    def detect(self, frames: list[np.ndarray] | np.ndarray) -> list[list[Detection]]:
        """Faces of each RGB uint8 frame, best score first."""
        prepared = [self._prepare(np.asarray(f)) for f in frames]
        out: list[list[Detection] | None] = [None] * len(prepared)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (x, _) in enumerate(prepared):
            groups.setdefault(x.shape, []).append(i)
        dtype = next(self.net.parameters()).dtype
        official = self.convention == "pytorch_retinaface"
        for shape, idxs in groups.items():
            for start in range(0, len(idxs), self.batch_size):
                chunk = idxs[start:start + self.batch_size]
                batch = torch.from_numpy(np.stack([prepared[i][0] for i in chunk])).to(self.device, dtype)
                loc, conf, landms = self.net(batch)
                dets_b = postprocess(loc, conf, landms, shape[1:], self.confidence, self.nms_threshold,
                                     **({} if official else {"top_k": None, "keep_top_k": None,
                                                             "plus_one": False}))
                for i, dets in zip(chunk, dets_b, strict=True):
                    r = prepared[i][1]
                    found = [Detection(tuple(float(v) / r for v in d[:4]), float(d[4]),
                                       (d[5:15].reshape(5, 2) / r).astype(np.float32)) for d in dets]
                    if not official:
                        fh, fw = np.asarray(frames[i]).shape[:2]
                        found = [d for d in found if _inside(d.box, fw, fh)]
                    out[i] = found
        return [o or [] for o in out]


def _inside(box: tuple[float, ...], width: int, height: int) -> bool:
    """retinaface-pytorch drops a box whose edges, clipped to the image, leave nothing (it keeps the
    unclipped box otherwise)."""
    x0 = min(max(box[0], 0), width - 1)
    x1 = min(max(box[2], x0 + 1), width - 1)
    y0 = min(max(box[1], 0), height - 1)
    y1 = min(max(box[3], y0 + 1), height - 1)
    return x0 < x1 and y0 < y1
