"""The plugin author's kit: a pytest plugin (``pytest11`` entry point) with fixtures and contract checks.

- :func:`check_detector` runs the contract checks on a detector spec's tiny ``test`` variant;
  :func:`check_dataset_spec` those of a dataset spec.
- ``dfbench.testing.miniature``: writers for miniature trees in each official dataset layout
  (formerly ``dfbench.datasets.miniature``, which still works as an alias).
- ``dfbench.testing.dist.assert_weights_match``: compare two runs' weights within explicit bounds
  (the "2 processes == 1 process with the doubled batch" check of every trainable family).
- Fixtures: ``synthetic_video`` (a factory for short face videos made from a real photo),
  ``synthetic_dataset`` (a tiny real/fake dataset in the ``synthetic`` layout), ``constant_detector``
  and ``oracle_detector`` (known video AUC 0.5 and 1.0 on the synthetic dataset).
- ``TESTING_PLUGIN``: registers the ``constant`` and ``oracle`` detectors and the ``synthetic``
  dataset; load it in any process with ``DFBENCH_EXTRA_PLUGINS=dfbench.testing:TESTING_PLUGIN``.

Synthetic fakes carry a strong green cast over the face (the "oracle" signal): the oracle detector
scores the green-minus-red balance of the crop centre, so it separates the classes perfectly while
going through the whole pipeline (decoding, face detection, cropping, aggregation).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..hookspecs import hookimpl
from ..specs import DatasetSpec, DetectorSpec, InputSpec, VariantSpec, VideoItem

# -- synthetic media -------------------------------------------------------------------------------

# The astronaut's face box in skimage's 512x512 photo (found once with dlib; fixed so no detector
# is needed to build test media).
_FACE_BOX = (150, 60, 260, 200)  # x0, y0, x1, y1


def _astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def make_face_frames(n_frames: int = 12, size: tuple[int, int] = (320, 240), fake: bool = False,
                     seed: int = 0, face: bool = True) -> np.ndarray:
    """uint8 [T, H, W, 3] RGB frames of the astronaut with a slow camera pan.

    ``fake=True`` paints a green cast over the face ellipse; ``face=False`` gives noise frames.
    """
    import cv2

    rng = np.random.default_rng(seed)
    w, h = size
    if not face:
        return rng.integers(0, 256, (n_frames, h, w, 3), dtype=np.uint8)
    img = _astronaut().copy()
    if fake:
        x0, y0, x1, y1 = _FACE_BOX
        mask = np.zeros(img.shape[:2], np.float32)
        cv2.ellipse(mask, ((x0 + x1) // 2, (y0 + y1) // 2), ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (21, 21), 6)[..., None]
        tinted = img.astype(np.float32) * np.array([0.55, 1.25, 0.8], np.float32)
        img = np.clip(img * (1 - mask) + tinted * mask, 0, 255).astype(np.uint8)
    frames = []
    dx0, dy0 = rng.integers(-6, 7, 2)
    for t in range(n_frames):
        # Crop a window around the face that drifts a few pixels per frame (camera motion).
        cx = 205 + int(dx0 + 2 * np.sin(t / 3.0))
        cy = 140 + int(dy0 + 2 * np.cos(t / 4.0))
        crop = img[max(0, cy - 130):cy + 130, max(0, cx - 170):cx + 170]
        frames.append(cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA))
    return np.stack(frames)


def write_video(path: str | Path, frames: np.ndarray, fps: int = 25) -> Path:
    """Write RGB frames as an MJPG .avi or mp4v .mp4 with OpenCV (fast, no codec licences)."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    h, w = frames.shape[1:3]
    vw = cv2.VideoWriter(str(path), fourcc, fps, (w, h))
    if not vw.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    for f in frames:
        vw.write(np.ascontiguousarray(f[..., ::-1]))
    vw.release()
    return path


def build_synthetic_dataset(root: str | Path, n_real: int = 3, n_fake: int = 3, n_frames: int = 12,
                            broken: bool = False) -> Path:
    """A tiny dataset: ``root/{real,fake}/*.mp4`` + ``manifest.json`` (the ``synthetic`` layout).

    ``broken=True`` adds a zero-byte file, a truncated video, a non-video file and a faceless video.
    """
    root = Path(root)
    entries = []
    for label, n in ((0, n_real), (1, n_fake)):
        for i in range(n):
            name = f"{'fake' if label else 'real'}_{i:02d}.mp4"
            write_video(root / ("fake" if label else "real") / name,
                        make_face_frames(n_frames, fake=bool(label), seed=100 * label + i))
            entries.append({"name": name, "label": label, "method": "greencast" if label else "original"})
    if broken:
        (root / "fake").mkdir(parents=True, exist_ok=True)
        (root / "fake" / "zero_bytes.mp4").write_bytes(b"")
        good = (root / "fake" / "fake_00.mp4").read_bytes() if n_fake else b"\x00" * 100
        (root / "fake" / "truncated.mp4").write_bytes(good[: len(good) // 3])
        (root / "fake" / "notes.mp4").write_text("this is not a video\n")
        write_video(root / "fake" / "no_face.mp4", make_face_frames(n_frames, face=False))
        entries += [{"name": n, "label": 1, "method": "greencast"} for n in
                    ("zero_bytes.mp4", "truncated.mp4", "notes.mp4", "no_face.mp4")]
    (root / "manifest.json").write_text(json.dumps(entries, indent=1))
    return root


def index_synthetic(root: Path | None, split: str, options) -> list[VideoItem]:
    if root is None:
        raise FileNotFoundError("the synthetic dataset needs --data-root")
    entries = json.loads((Path(root) / "manifest.json").read_text())
    items = []
    for e in entries:
        sub = "fake" if e["label"] else "real"
        items.append(VideoItem(key=f"synthetic/{sub}/{e['method']}/{Path(e['name']).stem}", label=e["label"],
                               method=e["method"], path=str(Path(root) / sub / e["name"])))
    return sorted(items, key=lambda it: it.key)


# -- reference detectors ---------------------------------------------------------------------------

def _reference_net(kind: str):
    import torch
    from torch import nn

    class ReferenceNet(nn.Module):
        """``constant``: logit 0 for everything; ``oracle``: green-minus-red balance of the centre."""

        def __init__(self) -> None:
            super().__init__()
            # One parameter so dtype/device moves and state dicts behave like a real model.
            self.scale = nn.Parameter(torch.tensor(20.0))

        def forward(self, x):
            if kind == "constant":
                return (x.flatten(1)[:, :1] * 0.0) * self.scale
            h, w = x.shape[-2:]
            c = x[..., h // 4: 3 * h // 4, w // 4: 3 * w // 4]
            return ((c[:, 1] - c[:, 0]).mean(dim=(1, 2)) * self.scale)[:, None]

    return ReferenceNet()


def build_reference_detector(variant: VariantSpec):
    from ..detector import Detector

    det = Detector(_reference_net(variant.config.get("kind", "constant")), variant.input)
    det.trained = True  # nothing to learn: their scores are known by construction
    return det


def _reference_spec(kind: str) -> DetectorSpec:
    inp = InputSpec(unit="frame", size=64, colour="rgb", cropper="dlib_align", frames_per_video=4,
                    mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    variants = tuple(VariantSpec(name, inp, {"kind": kind}) for name in ("default", "test"))
    return DetectorSpec(name=kind, factory=build_reference_detector, variants=variants, default_variant="default",
                        description=f"reference detector with known AUC ({'0.5' if kind == 'constant' else '1.0 on synthetic'})")


class _TestingPlugin:
    @hookimpl
    def register_detectors(self, register):
        register(_reference_spec("constant"))
        register(_reference_spec("oracle"))

    @hookimpl
    def register_datasets(self, register):
        register(DatasetSpec(name="synthetic", index=index_synthetic, splits=("test",),
                             description="tiny generated face videos (dfbench.testing)"))


TESTING_PLUGIN = _TestingPlugin()


# -- contract checks -------------------------------------------------------------------------------

def check_detector(spec: DetectorSpec, variant: str = "test", registry=None) -> None:
    """Contract checks a detector plugin must pass; raises AssertionError naming the broken rule.

    Builds without weights; uint8 input of the declared shape gives finite float32 logits ``[B]``;
    eval is deterministic; results do not depend on batch size; the input contract is consistent
    with the model (channels, clip length, normalisation inside, cropper registered).
    """
    import torch

    from ..detector import Detector

    v = spec.variant(variant)
    s = v.input
    assert s.unit in ("frame", "clip"), f"unit must be frame or clip, got {s.unit!r}"
    assert s.colour in ("rgb", "gray"), f"colour must be rgb or gray, got {s.colour!r}"
    assert s.size > 0 and s.clip_length >= 1, "size and clip_length must be positive"
    assert s.unit == "frame" or s.clip_length > 1, "a clip detector needs clip_length > 1"
    assert len(s.mean) >= s.channels and len(s.std) >= s.channels, "mean/std need one value per channel"
    assert s.aggregation in ("mean_logit", "mean_prob", "max"), f"unknown aggregation {s.aggregation!r}"
    det = spec.build(variant)
    assert isinstance(det, Detector), f"factory must return a dfbench.detector.Detector, got {type(det).__name__}"
    assert det.input_spec == s, "detector.input_spec differs from the variant's declared InputSpec"
    det.eval()
    torch.manual_seed(0)
    x = det.example_input(batch=3, seed=1)
    with torch.inference_mode():
        y = det(x)
        y2 = det(x)
        singles = torch.cat([det(x[i:i + 1]) for i in range(3)])
    assert y.shape == (3,), f"forward must return logits of shape [B]=(3,), got {tuple(y.shape)}"
    assert y.dtype == torch.float32, f"logits must be float32, got {y.dtype}"
    assert torch.isfinite(y).all(), "logits contain NaN or inf"
    assert torch.equal(y, y2), "eval forward is not deterministic"
    assert torch.allclose(y, singles, atol=1e-4, rtol=1e-4), \
        f"logits depend on batch size: batch {y.tolist()} vs one-by-one {singles.tolist()}"
    try:
        det(x.float())
    except TypeError:
        pass
    else:
        raise AssertionError("forward must reject non-uint8 input (normalisation lives inside the detector)")
    if registry is not None:
        assert s.cropper in registry.croppers, f"cropper {s.cropper!r} is not registered"


def check_dataset_spec(spec: DatasetSpec, registry=None) -> None:
    """Contract checks a dataset plugin's spec must pass; raises AssertionError naming the rule.

    The id is a lowercase identifier-like name (it becomes ``DFBENCH_<NAME>_ROOT`` and the first
    part of every key); splits are declared once each; expected counts exist only for declared
    splits and are non-negative integers for ``real`` and ``fake``; ``index`` resolves to a
    callable; with a ``registry``, no alias hides another dataset's id.
    """
    import re

    from ..specs import load_object

    assert re.fullmatch(r"[a-z][a-z0-9_]*", spec.name), f"dataset id {spec.name!r}: use [a-z0-9_]"
    assert spec.splits and len(set(spec.splits)) == len(spec.splits), f"{spec.name}: splits must be unique"
    assert spec.env_var.isidentifier(), f"{spec.name}: {spec.env_var} is not a valid variable name"
    for split, counts in spec.expected_counts.items():
        assert split in spec.splits, f"{spec.name}: expected counts for undeclared split {split!r}"
        assert set(counts) <= {"real", "fake"}, f"{spec.name} {split}: counts take 'real' and 'fake'"
        assert all(isinstance(n, int) and n >= 0 for n in counts.values()), f"{spec.name} {split}: bad count"
    assert callable(load_object(spec.index)), f"{spec.name}: index {spec.index!r} is not callable"
    if registry is not None:
        for alias in spec.aliases:
            assert alias not in registry.datasets or alias == spec.name, (
                f"{spec.name}: alias {alias!r} is another dataset's id"
            )


# -- pytest fixtures -------------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - the module is importable without pytest
    pytest = None

if pytest is not None:

    @pytest.fixture
    def synthetic_video(tmp_path):
        """Factory: ``synthetic_video(fake=False, n_frames=12, face=True) -> Path`` to an .mp4."""
        counter = {"n": 0}

        def make(fake: bool = False, n_frames: int = 12, face: bool = True, size=(320, 240)) -> Path:
            counter["n"] += 1
            frames = make_face_frames(n_frames, size=size, fake=fake, seed=counter["n"], face=face)
            return write_video(tmp_path / f"video_{counter['n']:03d}.mp4", frames)

        return make

    @pytest.fixture
    def synthetic_dataset(tmp_path) -> Path:
        """A tiny ``synthetic`` dataset (3 real + 3 fake videos) under a temp root."""
        return build_synthetic_dataset(tmp_path / "synthetic")

    @pytest.fixture
    def testing_registry(monkeypatch):
        """The process registry with the testing plugin (constant/oracle detectors, synthetic dataset)."""
        from .. import registry as reg_mod

        monkeypatch.setenv("DFBENCH_EXTRA_PLUGINS", "dfbench.testing:TESTING_PLUGIN")
        reg = reg_mod.get_registry(refresh=True)
        yield reg
        monkeypatch.delenv("DFBENCH_EXTRA_PLUGINS")
        reg_mod.get_registry(refresh=True)

    @pytest.fixture
    def constant_detector():
        return build_reference_detector(_reference_spec("constant").variant("test"))

    @pytest.fixture
    def oracle_detector():
        return build_reference_detector(_reference_spec("oracle").variant("test"))


def as_dict(obj: Any) -> Any:  # small helper for tests comparing results
    return json.loads(json.dumps(obj, default=str))


def __getattr__(name: str) -> Any:
    # Miniature copies of the official dataset layouts (FF++, DFD, Celeb-DF, DFDC, DFW, HF) for
    # plugin authors' tests: ``dfbench.testing.miniature.make_ffpp(root, splits_source)`` etc.
    if name == "miniature":
        import importlib

        return importlib.import_module(".miniature", __name__)
    raise AttributeError(name)
