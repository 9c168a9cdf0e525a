"""Helpers for the RECCE plugin tests: synthetic weights in the official format."""

from __future__ import annotations

import json
from pathlib import Path

import torch

REFERENCE = Path(__file__).resolve().parents[4] / "shared" / "reference" / "recce_official_state_dict.json"
KEYS_FILE = Path(__file__).parent / "data" / "official_keys.json"


def official_key_list() -> list[dict]:
    """The 362 official keys with shapes (a copy lives in tests/data so the tests run anywhere)."""
    path = KEYS_FILE if KEYS_FILE.exists() else REFERENCE
    return json.loads(path.read_text())


def synthetic_official_state(dtype: torch.dtype = torch.float64, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in the official format, with sane BN statistics (var > 0) and scaled convs."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for entry in official_key_list():
        key, shape = entry["key"], entry["shape"]
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(100, dtype=torch.int64)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g, dtype=dtype) + 0.5
        elif key.endswith("running_mean"):
            state[key] = torch.randn(shape, generator=g, dtype=dtype) * 0.1
        elif len(shape) == 1:
            base = 1.0 if key.endswith(".weight") else 0.0
            state[key] = base + torch.randn(shape, generator=g, dtype=dtype) * 0.1
        else:
            fan_in = max(1, int(torch.tensor(shape[1:]).prod()))
            state[key] = torch.randn(shape, generator=g, dtype=dtype) / fan_in ** 0.5
    return state
