"""Fixtures for the LipForensics plugin tests: the official key list and synthetic official weights.

(The suite runs with ``--import-mode=importlib``, so helpers live here as fixtures, not in a module.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REFERENCE_KEYS = Path(__file__).resolve().parents[4] / "shared" / "reference" / "lipforensics_official_state_dict.json"
_HERE_KEYS = Path(__file__).with_name("data") / "lipforensics_official_state_dict.json"


def official_shapes() -> dict[str, tuple[tuple[int, ...], str]]:
    """The 343 official keys with their shapes (a copy is kept next to the tests)."""
    path = _HERE_KEYS if _HERE_KEYS.exists() else REFERENCE_KEYS
    return {e["key"]: (tuple(e["shape"]), e["dtype"]) for e in json.loads(path.read_text())}


def synthetic_state_dict(
    shapes: dict[str, tuple[tuple[int, ...], str]], dtype=torch.float64, seed: int = 0
):
    """Random weights in the official format, scaled so activations stay O(1) through the net.

    The kind of each tensor is read from its key name (as an official checkpoint would be read),
    not from our model, so the converter is tested against the key list alone.
    """
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}
    for key, (shape, dt) in shapes.items():
        if dt == "int64":
            sd[key] = torch.tensor(7, dtype=torch.int64)
            continue
        name = key.rsplit(".", 1)[-1]
        is_prelu = any(s in key for s in ("relu", "non_lin", "frontend3D.2"))
        if name == "running_var":
            t = 0.5 + torch.rand(shape, generator=g, dtype=dtype)
        elif name == "running_mean":
            t = 0.1 * torch.randn(shape, generator=g, dtype=dtype)
        elif is_prelu:
            t = 0.5 * torch.rand(shape, generator=g, dtype=dtype)
        elif name == "bias":
            t = 0.1 * torch.randn(shape, generator=g, dtype=dtype)
        elif len(shape) == 1:  # BN gamma
            t = 0.5 + torch.rand(shape, generator=g, dtype=dtype)
        else:
            fan_in = 1
            for s in shape[1:]:
                fan_in *= s
            t = torch.randn(shape, generator=g, dtype=dtype) / fan_in**0.5
        sd[key] = t
    return sd


@pytest.fixture(scope="session")
def official_key_shapes() -> dict[str, tuple[tuple[int, ...], str]]:
    return official_shapes()


@pytest.fixture(scope="session")
def official_sd() -> dict[str, torch.Tensor]:
    return synthetic_state_dict(official_shapes())


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    # The CI box has 2 cores shared by many jobs: keep each test process lean.
    torch.set_num_threads(min(2, torch.get_num_threads()))
    yield
