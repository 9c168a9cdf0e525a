"""The core's generic crop-classifier task (dfbench.training.classifier): any frame detector trains
on it, only trainable parameters move, the exported weights load back through `dfbench run`'s
weights path with their card, and bad configs fail with one line naming the key."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from dfbench.testing.crops import checker_crops
from dfbench.training.classifier import ClassifierConfig, load_classifier_config, train
from dfbench.training.config import ConfigError
from dfbench.training.crops import ArrayDataset, jitter_samples
from dfbench.training.crops import AugmentConfig as CoreAugment


def synthetic_crops(split: str = "train", size: int = 48, n: int = 48, seed: int = 0) -> ArrayDataset:
    """Smooth "reals"; "fakes" carry a high-frequency checker patch in the centre (two frames a
    video). Also a ``module:factory`` data source (``split``/``size`` as the task passes them)."""
    return checker_crops(n, size, seed + (split == "val"), label=lambda i: (i // 2) % 2,
                         group=lambda i: f"{split}/v{i // 2}")


def _cfg(tmp_path, detector="xception", variant="test", **sets):
    base = {"variant": variant, "out_dir": str(tmp_path / "run"), "epochs": 3, "batch_size": 8,
            "eval_batch_size": 32, "optim.lr": 3e-3, "log_every": 0, "threads": 1, "data.val_fraction": 0.25,
            "data.augment.colour": 0.1}
    base.update(sets)
    return load_classifier_config(None, [f"{k}={json.dumps(v)}" for k, v in base.items()], detector=detector)


def test_trains_a_registered_variant_and_its_weights_load_back_with_a_card(tmp_path, monkeypatch):
    from dfbench.build import build_detector
    from dfbench.training.export import export_weights

    torch.manual_seed(0)
    res = train(_cfg(tmp_path), train_dataset=synthetic_crops())
    first, last = res.history[0]["train"]["loss"], res.history[-1]["train"]["loss"]
    assert last < first
    assert res.best is not None and "held-out 25% of videos" in res.best["split"]
    out = export_weights(res.best_weights_dir, tmp_path / "pkg" / "demo", "float32", tag="demo")
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["detector"] == "xception" and cfg["variant"] == "test" and cfg["tag"] == "demo"
    card = cfg["card"]
    assert "18 training videos, 6 held out by video" in card["trained_on"]
    assert "test split was never read" in card["selection"] and f"epoch {res.best['epoch']} of 3" in card["selection"]
    assert cfg["training"]["out_dir"] == "run"  # no trainer's disk layout in a shipped file
    det = build_detector("xception_test", weights=str(out))  # the path `dfbench run --weights` takes
    assert det.trained
    best = build_detector("xception_test", weights=res.best_weights_dir)
    x = synthetic_crops(n=4, seed=3).images
    with torch.inference_mode():
        assert torch.equal(det.eval()(x), best.eval()(x))
    monkeypatch.setenv("DFBENCH_CACHE", str(tmp_path / "cache"))
    from dfbench.cli import cli

    r = CliRunner().invoke(cli, ["run", "-d", "xception_test", "--weights", str(out), "-s", "demo", "--limit", "2",
                                 "-o", str(tmp_path / "eval"), "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.output[r.output.index("{"):])
    assert result["detector"]["trained"] and result["counts"]["videos_scored"] == 2
    assert result["detector"]["weights_sha256"] == cfg["sha256"]


def test_only_the_probe_of_a_frozen_encoder_trains_and_the_encoder_stays_in_eval_mode(tmp_path):
    from dfbench.training.classifier import ClassifierTask

    data = synthetic_crops(size=32, n=24)
    task = ClassifierTask(_cfg(tmp_path, "univfd", epochs=1))
    task.detector = task.build()
    assert {n for n, p in task.net.named_parameters() if p.requires_grad} == {"fc.weight", "fc.bias"}
    task.train_mode(True)
    assert task.net.training and task.net.fc.training and not task.net.visual.training
    from dfbench.weights import save_weights

    save_weights(task.detector, tmp_path / "init")  # start from these exact tensors (`init`)
    before = {k: v.clone() for k, v in task.net.state_dict().items()}
    res = train(_cfg(tmp_path, "univfd", epochs=2, init=str(tmp_path / "init"), **{"optim.lr": 1e-2}),
                train_dataset=data)
    after = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]
    after = {k.removeprefix("net."): v for k, v in after.items()}
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved == {"fc.weight", "fc.bias"}, moved
    assert res.steps_done > 0


def test_the_family_command_trains_from_a_module_factory_source(tmp_path, monkeypatch):
    import sys
    import types

    from dfbench.cli import cli

    module = types.ModuleType("classifier_synthetic")  # (tests import in importlib mode: not on sys.path)
    module.synthetic_crops = synthetic_crops
    monkeypatch.setitem(sys.modules, "classifier_synthetic", module)

    cfg = tmp_path / "c.yaml"
    cfg.write_text("variant: test\nepochs: 1\nbatch_size: 8\nthreads: 1\nlog_every: 0\n"
                   "data: {train: 'classifier_synthetic:synthetic_crops', val_fraction: 0.25}\n")
    r = CliRunner().invoke(cli, ["spsl", "train", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "best epoch 1: val_auc" in r.output
    saved = json.loads((tmp_path / "o" / "best" / "config.json").read_text())
    assert saved["detector"] == "spsl" and saved["training"]["detector"] == "spsl"


@pytest.mark.parametrize("sets,message", [
    ({"detector": "nosuch"}, r"detector must be a registered family \(.*xception\), got 'nosuch'"),
    ({"variant": "huge"}, "variant must be one of xception's"),
    ({"data.val_fraction": 0.0, "data.val_split": "test"}, "must not read the test split"),
    ({"optim.lr": "fast"}, "optim.lr expects a number"),
    ({"data.augment.shift": 0.7}, "data.augment needs"),
    ({"optim.name": "sgd"}, "optim.name must be one of adam, adamw, got 'sgd'"),
    ({"scheduler.name": "cosine"}, "scheduler.name must be one of step, none, got 'cosine'"),
    ({"data.val_fraction": 1.5}, r"data.val_fraction must lie in \[0, 1\)"),
])
def test_bad_configs_fail_with_one_line_naming_the_key(tmp_path, sets, message):
    with pytest.raises(ConfigError, match=message):
        load_classifier_config(None, [f"{k}={json.dumps(v)}" for k, v in sets.items()],
                               detector=sets.get("detector", "xception"))


def test_a_config_for_another_family_or_a_clip_model_is_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("detector: spsl\nvariant: test\n")
    with pytest.raises(ConfigError, match="does not match the command"):
        load_classifier_config(path, [], detector="xception")
    assert load_classifier_config(path, []).detector == "spsl"
    with pytest.raises(ConfigError, match="takes clips"):
        load_classifier_config(None, ["variant=test"], detector="lipforensics")
    assert ClassifierConfig().data.train == "dfbench:demo"


def test_jitter_is_per_sample_and_independent_of_batch_composition():
    """A sample's flip and jitter depend on (seed, epoch, index) only, so DDP and resume replay it."""
    x = synthetic_crops(n=6).images
    aug = CoreAugment(scale=0.1, shift=0.05, colour=0.2)
    whole = jitter_samples(x, list(range(6)), seed=1, epoch=2, hflip=0.5, augment=aug)
    part = jitter_samples(x[3:5], [3, 4], seed=1, epoch=2, hflip=0.5, augment=aug)
    assert torch.equal(whole[3:5], part)
    assert not torch.equal(whole, jitter_samples(x, list(range(6)), seed=1, epoch=3, hflip=0.5, augment=aug))
    assert jitter_samples(x, list(range(6)), seed=1, epoch=2, hflip=0.0, augment=CoreAugment()) is x


def test_recce_keeps_its_data_names_from_the_core():
    data = pytest.importorskip("dfbench_recce.data")
    from dfbench.training import crops

    assert data.ArrayDataset is crops.ArrayDataset and data.split_by_group is crops.split_by_group


def test_bn_momentum_reaches_every_batchnorm_layer(tmp_path):
    """EfficientNet's 0.01 leaves evaluation statistics near their init after a short run from scratch."""
    from dfbench.training.classifier import ClassifierTask

    bns = lambda det: [m for m in det.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]  # noqa: E731
    own = ClassifierTask(_cfg(tmp_path, "efficientnet_b4")).build()
    assert bns(own) and {m.momentum for m in bns(own)} == {0.01}
    det = ClassifierTask(_cfg(tmp_path, "efficientnet_b4", bn_momentum=0.1)).build()
    assert {m.momentum for m in bns(det)} == {0.1}
    with pytest.raises(ConfigError, match="bn_momentum must lie in"):
        _cfg(tmp_path, bn_momentum=1.5)


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    """Stop after one epoch, restart the same command: flips, jitter and batch order replay exactly."""
    data = synthetic_crops(n=32)
    sets = {"epochs": 2, "data.hflip": 0.5, "data.augment.scale": 0.1, "data.augment.shift": 0.05}
    train(_cfg(tmp_path / "a", **sets), train_dataset=data)
    train(_cfg(tmp_path / "b", **sets), train_dataset=data, stop_after_epochs=1)
    resumed = train(_cfg(tmp_path / "b", **sets), train_dataset=data, resume=True)
    assert resumed.epochs_done == 2
    a = torch.load(tmp_path / "a" / "run" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "run" / "last.pt", weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_augmentation_is_seeded_bounded_and_off_by_default():
    """(Moved here from RECCE's tests with the code: the jitter is the core's, dfbench.training.crops.)"""
    from dfbench.training.crops import AugmentConfig, augment_batch

    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    off = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(0))
    assert torch.equal(off, x.float())  # amplitudes 0: no resampling at all
    cfg = AugmentConfig(scale=0.1, shift=0.1, colour=0.3)
    a = augment_batch(x, cfg, torch.Generator().manual_seed(1))
    b = augment_batch(x, cfg, torch.Generator().manual_seed(1))
    c = augment_batch(x, cfg, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)  # replayable on resume, varied across epochs
    assert a.shape == x.shape and a.dtype == torch.float32 and a.min() >= 0 and a.max() <= 255
    # Every sample gets its own draw (a batch-wide jitter would teach nothing per image).
    same = x[:1].expand(4, -1, -1, -1)
    d = augment_batch(same, cfg, torch.Generator().manual_seed(3))
    assert not torch.equal(d[0], d[1])
