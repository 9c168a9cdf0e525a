"""``dfbench new-plugin NAME``: a working plugin package to start from.

The skeleton registers one detector (a small CNN with a ``test`` variant), one dataset (a
``real/`` + ``fake/<method>/`` folder layout) and one corruption (a vignette), a training task on
the core (``dfbench NAME train``, :mod:`dfbench.scaffold_train`), and ships tests that run
``dfbench.testing.check_detector`` and a short training run — they pass as generated. docs/writing-plugins.md
walks through the same files.
"""

from __future__ import annotations

import re
from pathlib import Path

PYPROJECT = '''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "dfbench-{name}"
version = "0.1.0"
description = "A dfbench plugin: the {name} detector, dataset and corruption"
requires-python = ">=3.10"
dependencies = ["dfbench"]

[project.entry-points.dfbench]
{name} = "dfbench_{name}.plugin"

[tool.setuptools]
packages = ["dfbench_{name}"]
'''

PLUGIN = '''"""dfbench plugin {name}: registers a detector, a dataset and a corruption.

Keep this module cheap to import: specs name their heavy parts as "module:attribute" strings.
"""

from dataclasses import replace

from dfbench import hookimpl
from dfbench.specs import CorruptionSpec, DatasetSpec, DetectorSpec, InputSpec, VariantSpec

_INPUT = InputSpec(unit="frame", size=128, colour="rgb", cropper="dlib_align",
                   mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                   frames_per_video=8, aggregation="mean_logit")

SPEC = DetectorSpec(
    name="{name}",
    factory="dfbench_{name}.model:build_detector",
    variants=(
        VariantSpec("base", _INPUT, {{"width": 32}}, "a small CNN"),
        VariantSpec("test", replace(_INPUT, size=32), {{"width": 4}}, "tiny, for tests"),
    ),
    default_variant="base",
    description="{name}: a starting point for your own detector",
)


@hookimpl
def register_detectors(register):
    register(SPEC)


@hookimpl
def register_datasets(register):
    register(DatasetSpec(name="{name}_folder", index="dfbench_{name}.dataset:index", splits=("test",),
                         description="videos under real/ and fake/<method>/"))


@hookimpl
def register_corruptions(register):
    register(CorruptionSpec(name="{name}_vignette", apply="dfbench_{name}.corruption:vignette",
                            levels=(1, 2, 3), parameters={{1: 0.3, 2: 0.6, 3: 0.9}},
                            description="darkens the corners"))
'''

MODEL = '''"""The {name} detector: a small CNN. Replace the network with yours; keep the wrapper."""

import torch
from torch import nn

from dfbench.detector import Detector


class SmallCNN(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(2 * width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def build_detector(variant):
    # Detector normalises uint8 crops with the variant's mean/std and returns logits [B].
    return Detector(SmallCNN(**variant.config), variant.input)
'''

DATASET = '''"""The {name}_folder dataset: ``root/real/*.mp4`` and ``root/fake/<method>/*.mp4``."""

from pathlib import Path

from dfbench.specs import VideoItem

VIDEO_EXT = {{".mp4", ".avi", ".mov", ".mkv", ".webm"}}


def index(root, split, options):
    if root is None:
        raise FileNotFoundError("pass --data-root DIR (a folder with real/ and fake/<method>/)")
    root = Path(root)
    items = []
    for path in sorted((root / "real").glob("*")):
        if path.suffix.lower() in VIDEO_EXT:
            items.append(VideoItem(f"{name}_folder/real/original/{{path.stem}}", 0, "original", str(path)))
    for method_dir in sorted(p for p in (root / "fake").glob("*") if p.is_dir()):
        for path in sorted(method_dir.glob("*")):
            if path.suffix.lower() in VIDEO_EXT:
                key = f"{name}_folder/fake/{{method_dir.name}}/{{path.stem}}"
                items.append(VideoItem(key, 1, method_dir.name, str(path)))
    return items
'''

CORRUPTION = '''"""The {name}_vignette corruption: darker corners, strength by level."""

import numpy as np

STRENGTH = {{1: 0.3, 2: 0.6, 3: 0.9}}


def vignette(frames: np.ndarray, level: int, seed: int) -> np.ndarray:
    single = frames.ndim == 3
    x = frames[None] if single else frames
    h, w = x.shape[1:3]
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((yy - h / 2) / (h / 2), (xx - w / 2) / (w / 2)) / np.sqrt(2)
    gain = 1.0 - STRENGTH[level] * r**2
    out = (x.astype(np.float32) * gain[None, :, :, None]).clip(0, 255).astype(np.uint8)
    return out[0] if single else out
'''

TEST = '''"""Contract checks for the {name} plugin (run with pytest)."""

import numpy as np

from dfbench.testing import check_detector
from dfbench_{name}.corruption import vignette
from dfbench_{name}.plugin import SPEC


def test_detector_contract():
    check_detector(SPEC, "test")


def test_vignette_keeps_shape_and_input():
    frames = np.full((2, 16, 16, 3), 200, np.uint8)
    out = vignette(frames, 3, seed=0)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert (frames == 200).all() and out[0, 0, 0, 0] < out[0, 8, 8, 0]
'''

README = '''# dfbench-{name}

A dfbench plugin generated by `dfbench new-plugin {name}`. Install it next to dfbench:

    pip install -e .
    dfbench list detectors {name}
    pytest tests

See dfbench's docs/writing-plugins.md for what each file does.
'''


def write_plugin_skeleton(name: str, output: Path) -> Path:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"plugin name {name!r}: use lower-case letters, digits and underscores, starting with a letter")
    root = output / f"dfbench-{name.replace('_', '-')}"
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} exists and is not empty; choose another --output")
    from .scaffold_train import COMMANDS, CONFIG, HOOK, TRAIN
    from .scaffold_train import TEST as TRAIN_TEST

    pkg = root / f"dfbench_{name}"
    files = {
        root / "pyproject.toml": PYPROJECT,
        root / "README.md": README,
        pkg / "__init__.py": '"""dfbench plugin {name}."""\n',
        pkg / "plugin.py": PLUGIN + HOOK,
        pkg / "model.py": MODEL,
        pkg / "dataset.py": DATASET,
        pkg / "corruption.py": CORRUPTION,
        pkg / "config.py": CONFIG,
        pkg / "train.py": TRAIN,
        pkg / "commands.py": COMMANDS,
        root / "tests" / f"test_{name}_plugin.py": TEST + TRAIN_TEST,
    }
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(name=name, Name=name.title().replace("_", "")))
    return root
