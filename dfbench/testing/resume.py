"""``kill -9`` then resume, for training tests: one scaffold for every family's acceptance test.

An in-process interrupt cannot catch state that only survives in memory; a SIGKILL leaves nothing
but what the checkpoint wrote to disk. The pattern: a straight reference run, a second run killed
as soon as its first checkpoint (``OUT/last.pt``) exists, the same command again, which must say
where it resumed (equal weights alone would also hold for a run that ignored the checkpoint and
started over) and end with the reference's weights, bit for bit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CHECKPOINT = "last.pt"


def training_env(**extra: str) -> dict[str, str]:
    """The environment of a training subprocess in tests: offline, one OpenMP thread."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **extra}


def kill_at_first_checkpoint(cmd: Sequence[str], out_dir: str | Path, env: dict[str, str] | None = None,
                             timeout: float = 600, poll: float = 0.01) -> dict[str, Any]:
    """Start ``cmd``, SIGKILL it once ``out_dir/last.pt`` exists, and return that checkpoint."""
    import torch

    ckpt = Path(out_dir) / CHECKPOINT
    proc = subprocess.Popen(list(cmd), env=env if env is not None else training_env())
    deadline = time.time() + timeout
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(poll)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, (
        f"the run ended on its own (exit {proc.returncode}) before it could be killed")
    assert ckpt.exists(), f"no checkpoint {ckpt} within {timeout:.0f} s: the run was killed before writing one"
    return torch.load(ckpt, weights_only=True)


def resume(cmd: Sequence[str], killed: dict[str, Any], env: dict[str, str] | None = None,
           timeout: float = 600) -> str:
    """Run ``cmd`` again to the end; it must succeed and log that it resumed at the killed
    checkpoint's epoch and step. Returns what it printed."""
    res = subprocess.run(list(cmd), capture_output=True, text=True, env=env if env is not None else training_env(),
                         timeout=timeout)
    printed = res.stdout + res.stderr
    assert res.returncode == 0, printed[-6000:]
    assert f"at epoch {killed['epoch']}, step {killed['step']}" in printed, (
        f"the second run did not resume from the checkpoint (epoch {killed['epoch']}, step {killed['step']}):\n"
        + printed[-3000:])
    return printed


def assert_same_checkpoint(ref_dir: str | Path, got_dir: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two runs' last checkpoints hold the same model, bit for bit; returns both."""
    import torch

    ref = torch.load(Path(ref_dir) / CHECKPOINT, weights_only=True)
    got = torch.load(Path(got_dir) / CHECKPOINT, weights_only=True)
    assert ref["model"].keys() == got["model"].keys()
    for k in ref["model"]:
        assert torch.equal(ref["model"][k], got["model"][k]), k
    return ref, got


__all__ = ["assert_same_checkpoint", "kill_at_first_checkpoint", "resume", "training_env"]
