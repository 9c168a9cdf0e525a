"""Thread counts from affinity and cgroup quotas, the waiting policy the CLI sets, worker threads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dfbench import threads


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_quota_of_own_group_and_ancestors(tmp_path):
    root = tmp_path / "cg"
    _write(root / "cgroup.controllers", "cpu io memory\n")
    _write(root / "cpu.max", "max 100000\n")
    _write(root / "user.slice" / "cpu.max", "250000 100000\n")  # 2.5 CPUs on the parent
    _write(root / "user.slice" / "job" / "cpu.max", "max 100000\n")
    proc = tmp_path / "proc_cgroup"
    _write(proc, "0::/user.slice/job\n")
    assert threads.cgroup_cpu_limit(root, proc) == pytest.approx(2.5)


def test_cgroup_v2_without_limit_is_none(tmp_path):
    root = tmp_path / "cg"
    _write(root / "cgroup.controllers", "cpu\n")
    _write(root / "cpu.max", "max 100000\n")
    proc = tmp_path / "proc_cgroup"
    _write(proc, "0::/\n")
    assert threads.cgroup_cpu_limit(root, proc) is None


def test_cgroup_v1_cfs_quota(tmp_path):
    root = tmp_path / "cg"
    _write(root / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us", "150000\n")
    _write(root / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_period_us", "100000\n")
    _write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "-1\n")
    _write(root / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")
    proc = tmp_path / "proc_cgroup"
    _write(proc, "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    assert threads.cgroup_cpu_limit(root, proc) == pytest.approx(1.5)


def test_cgroup_v1_unlimited_and_unreadable(tmp_path):
    root = tmp_path / "cg"
    _write(root / "cpu" / "cpu.cfs_quota_us", "-1\n")
    _write(root / "cpu" / "cpu.cfs_period_us", "100000\n")
    proc = tmp_path / "proc_cgroup"
    _write(proc, "1:cpu:/\n")
    assert threads.cgroup_cpu_limit(root, proc) is None
    assert threads.cgroup_cpu_limit(root, tmp_path / "missing") is None


def test_available_cpus_is_affinity_capped_by_quota_rounded_up(tmp_path, monkeypatch):
    root = tmp_path / "cg"
    _write(root / "cgroup.controllers", "cpu\n")
    _write(root / "cpu.max", "150000 100000\n")
    proc = tmp_path / "proc_cgroup"
    _write(proc, "0::/\n")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5, 6, 7})
    assert threads.available_cpus(root, proc) == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    assert threads.available_cpus(root, proc) == 1


def test_dfbench_threads_override_and_bad_value(monkeypatch):
    monkeypatch.setenv("DFBENCH_THREADS", "3")
    assert threads.model_threads() == 3
    monkeypatch.setenv("DFBENCH_THREADS", "two")
    with pytest.raises(ValueError, match="DFBENCH_THREADS"):
        threads.model_threads()


def test_set_env_defaults_never_overrides_the_user(monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda *a, **k: 3)
    monkeypatch.delenv("DFBENCH_THREADS", raising=False)
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    done = threads.set_env_defaults(env)
    assert env["OMP_WAIT_POLICY"] == "ACTIVE" and "OMP_WAIT_POLICY" not in done
    assert env["KMP_BLOCKTIME"] == "0"
    assert env["OMP_NUM_THREADS"] == "3" and env["MKL_NUM_THREADS"] == "3"


_CHILD = """
import os, sys
from dfbench.cli import main
sys.argv = ["dfbench", "--version"]
try:
    main()
except SystemExit:
    pass
import torch  # loads the OpenMP runtime after the CLI entry has run
torch.ones(64, 64).sum()
print("WAIT", os.environ.get("OMP_WAIT_POLICY"), os.environ.get("KMP_BLOCKTIME"), os.environ.get("OMP_NUM_THREADS"))
"""


def test_cli_entry_sets_passive_waiting_before_torch_loads():
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "DFBENCH_THREADS")}
    env["OMP_DISPLAY_ENV"] = "VERBOSE"  # GNU/Intel OpenMP print the settings they loaded with
    proc = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"WAIT PASSIVE 0 {threads.available_cpus()}" in proc.stdout
    if "GOMP_SPINCOUNT" in proc.stderr:
        # libgomp shows PASSIVE even when unset (it then spins 300,000 times): the spin count is
        # the proof that the runtime really read the setting.
        assert "GOMP_SPINCOUNT = '0'" in proc.stderr, proc.stderr


def test_configure_and_worker_thread_limit():
    import cv2
    import torch

    before = torch.get_num_threads()
    info = threads.configure()
    assert info["torch_intra_op"] == torch.get_num_threads() <= threads.available_cpus()
    assert info["opencv"] == cv2.getNumThreads() == 1
    seen = {}

    def worker():
        seen["limited"] = threads.limit_this_thread(1)
        seen["n"] = torch.get_num_threads()

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    if seen["limited"]:
        assert seen["n"] == 1
    # The model's thread keeps its count.
    assert torch.get_num_threads() == info["torch_intra_op"]
    torch.set_num_threads(before)


def test_run_environment_records_thread_settings():
    from dfbench.runner import environment

    env = environment("cpu")
    assert env["thread_settings"]["available_cpus"] == threads.available_cpus()
    assert "OMP_WAIT_POLICY" in env["thread_settings"]["env"]


_CHILD_LIMIT = """
import threading
import sklearn.ensemble  # ships its own libgomp copy, loaded here before torch's
import torch
from dfbench import threads
seen = {}
def worker():
    seen["limited"] = threads.limit_this_thread(1)
    seen["n"] = torch.get_num_threads()
torch.set_num_threads(2)
t = threading.Thread(target=worker); t.start(); t.join()
print("LIMIT", seen["limited"], seen["n"], torch.get_num_threads())
"""


def test_worker_limit_reaches_torchs_runtime_not_another_libgomp():
    proc = subprocess.run([sys.executable, "-c", _CHILD_LIMIT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "LIMIT True 1 2" in proc.stdout, proc.stdout
