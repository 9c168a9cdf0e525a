"""The ``dfbench recce`` commands and the explanation outputs end to end (tiny variant)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import torch
from click.testing import CliRunner
from dfbench_recce.commands import recce
from dfbench_recce.spec import SPEC
from recce_synthetic import synthetic_crops, write_folder

from dfbench.weights import read_weights_dir


def test_train_command_on_image_folders_then_export(tmp_path):
    write_folder(tmp_path / "data", synthetic_crops(10, seed=0), "train")
    write_folder(tmp_path / "data", synthetic_crops(6, seed=1), "val")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"variant: test\nout_dir: {tmp_path / 'run'}\nepochs: 2\nbatch_size: 4\nlog_every: 0\n"
                   f"data:\n  train: {tmp_path / 'data'}\n")
    res = CliRunner().invoke(recce, ["train", "--config", str(cfg), "--set", "optim.lr=1e-3"])
    assert res.exit_code == 0, res.output
    assert "best epoch" in res.output
    res = CliRunner().invoke(recce, ["export", str(tmp_path / "run" / "best"), str(tmp_path / "shipped")])
    assert res.exit_code == 0, res.output
    state, config = read_weights_dir(tmp_path / "shipped", expected_sha256=json.loads(
        (tmp_path / "shipped" / "config.json").read_text())["sha256"])
    assert config["stored_dtype"] == "bfloat16" and state["net.fc.weight"].dtype == torch.bfloat16
    det = SPEC.build("test")
    det.load_state_dict(state)  # bf16 storage loads into the float32 network
    assert det.net.fc.weight.dtype == torch.float32


def test_train_command_refuses_test_split_for_selection(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("variant: test\ndata:\n  train: /nowhere\n  val_split: test\n")
    res = CliRunner().invoke(recce, ["train", "--config", str(cfg)])
    assert res.exit_code != 0 and "test split" in str(res.exception)


def test_explanations_through_the_core_writer(tmp_path):
    explain = __import__("pytest").importorskip("dfbench.explain")
    det = SPEC.build("test").eval()
    x = det.example_input(2)

    class _PV:  # the bits of a prepared video the writer reads
        units = x.numpy()
        unit_index = [0, 16]

        class item:
            path = str(tmp_path / "clip.mp4")

    class _Stage:
        device = torch.device("cpu")

    logits = det(x).detach().numpy()
    written = explain.write_explanations(det, _Stage(), _PV(), logits, tmp_path / "explain")
    out = tmp_path / "explain" / "clip.mp4"
    faces = sorted(p.name for p in out.glob("face_*.png"))
    assert written["reconstructions"] == 2 and faces == ["face_00000.png", "face_00016.png"]
    img = cv2.imread(str(out / "face_00000.png"))
    # face | reconstruction | |x - x_hat| + colour bar, each picture upscaled to >= 256 px, titled above
    assert img.shape[0] >= 256 and img.shape[1] >= 3 * 256
    assert written["heatmaps"] == 2 and np.isfinite(logits).all()


def test_predict_explain_writes_reconstruction_next_to_the_face(tmp_path):
    cli = __import__("pytest").importorskip("dfbench.cli")
    skdata = __import__("skimage.data", fromlist=["astronaut"])
    img = tmp_path / "astronaut.png"
    cv2.imwrite(str(img), skdata.astronaut()[:, :, ::-1])
    res = CliRunner().invoke(cli.cli, ["predict", str(img), "--detector", "recce_test", "--allow-untrained", "--explain",
                                       str(tmp_path / "exp")])
    assert res.exit_code == 0, res.output
    face = tmp_path / "exp" / "astronaut.png" / "face_00000.png"
    panel = cv2.imread(str(face))
    assert panel is not None and panel.shape[0] >= 256 and panel.shape[1] >= 3 * 256  # face | x_hat | |x - x_hat|
