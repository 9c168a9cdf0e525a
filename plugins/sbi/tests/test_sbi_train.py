"""SBI training on the core: config, loss, schedule, a short CPU run on the demo reals, exact resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from dfbench_sbi.config import ConfigError, load_config
from dfbench_sbi.train import SBITask, linear_decay, train

DEMO_YAML = Path(__file__).parents[1] / "dfbench_sbi" / "configs" / "demo.yaml"
TINY = ["model.variant=test", "data.source=faces:4", "data.frames_per_video=4", "data.val_frames_per_video=2",
        "data.crop_size=96", "run.batch_size=2", "run.precision=fp32", "run.tensorboard=false",
        "run.threads=1", "optim.lr=1e-3"]


def test_demo_config_loads_and_states_its_departures():
    cfg = load_config(DEMO_YAML)
    assert cfg.model.variant == "test" and cfg.optim.name == "adam" and not cfg.optim.sam
    assert cfg.data.val_split == "holdout:0.25"
    text = DEMO_YAML.read_text()
    assert "Departures from the published recipe" in text and "SAM" in text


def test_defaults_are_the_published_recipe():
    cfg = load_config(None)
    assert (cfg.model.variant, cfg.optim.name, cfg.optim.sam, cfg.optim.lr) == ("efnb4", "sgd", True, 1e-3)
    assert cfg.run.batch_size == 16 and cfg.optim.decay_start_epoch == 75.0


@pytest.mark.parametrize("sets, msg", [
    (["data.val_split=test"], "test split"),
    (["optim.name=rmsprop"], "optim.name"),
    (["data.margin_min=9", "data.margin_max=8"], "margin"),
])
def test_config_errors_name_the_key(sets, msg):
    with pytest.raises(ConfigError, match=msg):
        load_config(None, sets)


def test_linear_decay_is_flat_then_falls_to_zero():
    assert linear_decay(0, 75, 100) == linear_decay(74, 75, 100) == 1.0
    assert linear_decay(80, 75, 100) == pytest.approx(0.8)
    assert linear_decay(100, 75, 100) == 0.0
    assert linear_decay(50, None, 100) == 1.0


def test_cross_entropy_on_two_outputs_is_bce_on_the_detector_logit(tmp_path):
    """The loss trains exactly the score evaluation reads: CE over (real, fake) outputs equals
    BCE on logit_fake - logit_real, the SBI detector's single logit."""
    task = SBITask(load_config(None, TINY + [f"run.out_dir={tmp_path}"]))
    task.detector = task.build()

    class _Rt:
        device = torch.device("cpu")

    task.rt = _Rt()
    batch = {"images": torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8),
             "labels": torch.tensor([0.0, 0.0, 1.0, 1.0])}
    task.net.eval()
    with torch.no_grad():
        out = task.forward(batch, train=False)
        ce = task.losses(batch, out)["loss"]
        det = task.detector.logits(task.detector.normalise(batch["images"]))
    torch.testing.assert_close(out["logits"], det)
    torch.testing.assert_close(ce, torch.nn.functional.binary_cross_entropy_with_logits(det, batch["labels"]))


def test_short_run_on_demo_reals_writes_selected_weights(tmp_path):
    cfg = load_config(DEMO_YAML, ["data.extract_frames=2", "data.frames_per_video=2", "data.val_frames_per_video=2",
                                  "run.epochs=2", "run.steps_per_epoch=3", "run.batch_size=2",
                                  f"data.cache_dir={tmp_path / 'crops'}", f"run.out_dir={tmp_path / 'run'}"])
    res = train(cfg, resume=False)
    assert res.epochs_done == 2 and all(math.isfinite(s["loss"]) for s in res.step_losses)
    best = json.loads((tmp_path / "run" / "best" / "config.json").read_text())
    assert best["detector"] == "sbi" and best["variant"] == "test"
    assert best["selection"]["split"] == "dataset:demo:holdout:0.25"
    assert "validation split" in best["selection"]["rule"]
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()

    from dfbench_sbi.train import build_detector_for

    from dfbench.weights import read_weights_dir

    state, _ = read_weights_dir(tmp_path / "run" / "best")
    build_detector_for(cfg).load_state_dict(state, strict=True)  # what evaluation will load


def test_resume_with_sam_continues_to_the_same_weights(tmp_path):
    """The official optimiser (SAM around SGD) under the core's resume contract."""
    sets = TINY + ["optim.name=sgd", "optim.sam=true", "run.epochs=2", "run.steps_per_epoch=2"]
    full = train(load_config(None, sets + [f"run.out_dir={tmp_path / 'a'}"]), resume=False)
    part = train(load_config(None, sets + [f"run.out_dir={tmp_path / 'b'}"]), resume=False, stop_after_epochs=1)
    assert part.epochs_done == 1
    resumed = train(load_config(None, sets + [f"run.out_dir={tmp_path / 'b'}"]), resume=True)
    assert resumed.epochs_done == 2 and resumed.steps_done == full.steps_done == 4
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_train_command_is_registered():
    from click.testing import CliRunner

    from dfbench.cli import cli

    res = CliRunner().invoke(cli, ["sbi", "train", "--config", str(DEMO_YAML), "--set", "run.epochs=3",
                                   "--print-config"])
    assert res.exit_code == 0, res.output
    assert "epochs: 3" in res.output and "variant: test" in res.output



def test_bn_momentum_reaches_every_batchnorm(tmp_path):
    task = SBITask(load_config(None, TINY + [f"run.out_dir={tmp_path}", "run.bn_momentum=0.1"]))
    bns = [m for m in task.build().net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert bns and all(m.momentum == 0.1 for m in bns)


def test_demo_weights_ship_and_load_as_sbi_test_demo():
    """`sbi_test.demo` resolves to the packaged weights (sha256 pinned, card saying what they
    were trained on), loads into the test variant, and `dfbench demo` lists it."""
    from dfbench.build import build_detector
    from dfbench.demo_run import demo_detector_ids
    from dfbench.registry import get_registry

    spec = get_registry(refresh=True).detectors["sbi"]
    (w,) = [w for w in spec.weights if w.tag == "demo"]
    assert w.variant == "test" and w.sha256 and "demo/train" in w.trained_on
    assert "holdout" in w.selection or "held-out" in w.selection
    det = build_detector("sbi_test.demo", require_weights=True)
    assert det.input_spec.size == 64
    assert "sbi_test.demo" in demo_detector_ids()[0]
