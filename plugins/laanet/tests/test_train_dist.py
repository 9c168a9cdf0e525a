"""Slow training checks in real processes: ``torchrun`` data parallel on gloo, and ``kill -9``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dfbench.testing.dist import assert_weights_match
from dfbench.testing.resume import (
    assert_same_checkpoint,
    kill_at_first_checkpoint,
    resume,
    training_env,
)

TINY = ["model.variant=test", "data.source=faces:4", "data.frames_per_video=4",
        "data.val_frames_per_video=1", "data.crop_size=96", "run.precision=fp32",
        "optim.base_lr=1e-3", "optim.booster=1", "optim.warmup_epochs=0", "optim.decay_end_epoch=100",
        "run.tensorboard=false", "run.threads=1", "model.overrides.dropout=0",
        "model.overrides.drop_path_rate=0"]

SCRIPT = """
import sys
from dfbench_laanet.config import load_config
from dfbench_laanet.train import train
train(load_config(None, sys.argv[1:]), resume=True)
"""


def _env() -> dict:
    plugin_dir = str(Path(__file__).resolve().parents[1])
    return training_env(PYTHONPATH=os.pathsep.join([plugin_dir, os.environ.get("PYTHONPATH", "")]))


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "last.pt", weights_only=True)["model"]


@pytest.mark.acceptance
def test_torchrun_two_processes_match_one_process_with_double_batch(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    common = TINY + ["run.epochs=1", "run.steps_per_epoch=3"]
    subprocess.run([sys.executable, str(script), *common, "run.batch_size=4",
                    f"run.out_dir={tmp_path / 'one'}"], check=True, env=_env(), timeout=600)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517", str(script), *common,
                    "run.batch_size=2", f"run.out_dir={tmp_path / 'two'}"], check=True, env=_env(),
                   timeout=600)
    one, two = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    lr, steps = 1e-3, 3
    assert_weights_match(
        one, two, atol=1e-5, rtol=1e-4, close_keys=("weight", "running_var"), max_off_fraction=1e-4,
        max_abs=3 * lr * steps,
        why="Adam normalises each gradient by its own magnitude, so biases whose gradient is zero by "
            "construction (a bias right before a BatchNorm) move by +-lr on pure float noise, in one "
            "process as in two, and the BN running means below them follow: those may differ by up to "
            "Adam's step bound; every weight and running variance must match")


@pytest.mark.acceptance
def test_kill_dash_nine_then_resume_gives_the_same_weights(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    common = TINY + ["run.epochs=3", "run.steps_per_epoch=2", "run.batch_size=2"]
    subprocess.run([sys.executable, str(script), *common, f"run.out_dir={tmp_path / 'ref'}"],
                   check=True, env=_env(), timeout=600)
    out = tmp_path / "killed"
    killed = kill_at_first_checkpoint([sys.executable, str(script), *common, f"run.out_dir={out}"], out,
                                      env=_env(), poll=0.05)
    assert killed["epoch"] < 3, "the run finished before it could be killed"
    # INFO logging so the second run says where it resumed (resume() checks it).
    logged = tmp_path / "run_logged.py"
    logged.write_text("import logging\nlogging.basicConfig(level=logging.INFO)\n" + SCRIPT)
    resume([sys.executable, str(logged), *common, f"run.out_dir={out}"], killed, env=_env())
    assert_same_checkpoint(tmp_path / "ref", out)
