"""Fixtures for the DeepfakeBench-baseline tests: offline, one thread, helper modules importable."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))  # dfb_reference (tests run with importlib mode)

import torch  # noqa: E402

torch.set_num_threads(1)
