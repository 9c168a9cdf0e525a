"""Settings for every test session of this repository (tests/ and plugins/*/tests).

The tests run detectors through ``dfbench run``, which caches crops, precision/runtime choices and
ONNX exports under ``$DFBENCH_CACHE`` (default ``~/.cache/dfbench``). A session that did not set it
gets a private temporary cache, shared by its tests and removed at the end, so tests never read
a choice or an export a previous session (or the user's own runs) left behind, and never leave
theirs in the user's cache. ``HF_HUB_OFFLINE=1``: nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import tempfile

_PRIVATE: list[str] = []


def pytest_configure(config) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if "DFBENCH_CACHE" not in os.environ:
        path = tempfile.mkdtemp(prefix="dfbench-test-cache-")
        os.environ["DFBENCH_CACHE"] = path
        _PRIVATE.append(path)


def pytest_unconfigure(config) -> None:
    for path in _PRIVATE:
        os.environ.pop("DFBENCH_CACHE", None)
        shutil.rmtree(path, ignore_errors=True)
