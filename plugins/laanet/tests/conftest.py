"""Shared fixtures for the LAA-Net plugin tests: offline, few threads, the official key list."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for pretrained weights

import pytest  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # for the laanet_official_reference helper

torch.set_num_threads(min(2, torch.get_num_threads()))


THROUGHPUT_KEY = pytest.StashKey[dict]()


@pytest.fixture(scope="session")
def laanet_throughput(request) -> dict[str, float]:
    """Where bench_laanet.py records images/s per case, for the end-of-session ratio table."""
    return request.config.stash.setdefault(THROUGHPUT_KEY, {})


@pytest.fixture(scope="session")
def official_key_list() -> list[tuple[str, list[int], str]]:
    """The 803 (key, shape, dtype) entries of the released LAA-Net checkpoint, in file order."""
    return [tuple(e) for e in json.loads((HERE / "data" / "laanet_official_keys.json").read_text())]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """After a benchmark session, print LAA-Net images/s and the speed-up ratios (same sitting)."""
    results = config.stash.get(THROUGHPUT_KEY, None)
    if not results:
        return
    tr = terminalreporter
    tr.section("LAA-Net inference at 384 px, batch 8 (images/s)")
    for key, ips in sorted(results.items(), key=lambda kv: kv[1]):
        tr.write_line(f"{key:32s} {ips:8.2f}")
    base = results.get("fp64_all_heads/flip_on")  # the official default: float64, flip test
    base_off = results.get("fp64_all_heads/flip_off")
    for key in ("bf16_channels_last/flip_off", "bf16_channels_last/flip_on", "fp32/flip_off",
                "runner_auto/flip_on", "runner_auto/flip_off", "runner_onnxruntime/flip_on"):
        if key in results and base_off:
            tr.write_line(f"{key} vs fp64_all_heads/flip_off: {results[key] / base_off:6.2f}x")
        if key in results and base:
            tr.write_line(f"{key} vs fp64_all_heads/flip_on (official default): {results[key] / base:6.2f}x")
