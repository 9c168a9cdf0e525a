"""Fixtures for the SBI plugin tests: offline, one thread, helper modules importable."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# --import-mode=importlib keeps test folders off sys.path; our helper (sbi_reference) lives here.
sys.path.insert(0, str(Path(__file__).parent))

import torch  # noqa: E402

torch.set_num_threads(1)
