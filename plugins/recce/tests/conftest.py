"""Shared fixtures for the RECCE plugin tests: offline, few threads, tiny variants."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The suite runs with --import-mode=importlib, which does not put test folders on sys.path; our
# helper modules (uniquely named recce_*) are imported from here.
sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402
import torch  # noqa: E402
from recce_helpers import synthetic_official_state  # noqa: E402

# One thread: the CI box is shared; oversubscribed intra-op threads spin and slow everyone down.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def official_state() -> dict[str, torch.Tensor]:
    return synthetic_official_state()


@pytest.fixture(autouse=True)
def _no_onednn_for_tiny_models():
    """oneDNN JIT-compiles a kernel per new conv shape (seconds each on a loaded 2-core box); the
    tiny test networks run faster on the native kernels. Scoped to this plugin's tests."""
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before
