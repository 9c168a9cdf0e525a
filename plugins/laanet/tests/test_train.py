"""LAA-Net training: config, schedule, SAM, data sampling, a short CPU run, exact resume."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import math

import numpy as np
import pytest
import torch
from dfbench_laanet.config import ConfigError, TrainConfig, load_config
from dfbench_laanet.train import lr_at, train

from dfbench.synthesis.pairs import collate_pairs

TINY = ["model.variant=test", "data.source=faces:4", "data.frames_per_video=6",
        "data.val_frames_per_video=2", "data.crop_size=96", "run.batch_size=2", "run.precision=fp32",
        "optim.base_lr=1e-3", "optim.booster=1", "optim.warmup_epochs=0", "optim.decay_end_epoch=100",
        "run.tensorboard=true", "run.threads=1"]


def tiny_config(tmp_path, *extra: str) -> TrainConfig:
    return load_config(None, TINY + [f"run.out_dir={tmp_path}", *extra])


def _trainer(cfg: TrainConfig, data: bool = True):
    """The core trainer on LAA-Net's task, datasets built (no training run)."""
    from dfbench_laanet.train import LAANetTask

    from dfbench.training.trainer import Trainer

    task = LAANetTask(cfg)
    t = Trainer(task)
    if data:
        t.setup_data()
    return t, task


# -- config ------------------------------------------------------------------------------------
def test_config_yaml_roundtrip_and_overrides(tmp_path):
    cfg = load_config(None, ["loss.hm_weight=100", "optim.base_lr=5e-5", "run.epochs=3",
                             "model.overrides.dropout=0"])
    assert cfg.loss.hm_weight == 100.0 and cfg.loss.cst_weight == 100.0
    assert cfg.optim.base_lr == 5e-5 and cfg.run.epochs == 3
    assert cfg.model.overrides == {"dropout": 0}
    path = tmp_path / "cfg.yaml"
    cfg.save(path)
    again = load_config(path, ["run.epochs=4"])
    assert again.loss.hm_weight == 100.0 and again.run.epochs == 4
    assert TrainConfig().loss.hm_weight == 10.0  # the released weights' recipe by default


def test_config_errors_are_actionable(tmp_path):
    with pytest.raises(ConfigError, match="run.epochs"):
        load_config(None, ["run.epoch=3"])
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(None, ["run.epochs"])
    with pytest.raises(ConfigError, match="expects a number"):
        load_config(None, ["optim.base_lr=fast"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    # Checkpoint selection never reads the evaluation test split (held-out train videos are fine).
    with pytest.raises(ConfigError, match="must not read the test split"):
        load_config(None, ["data.val_split=test"])
    assert load_config(None, ["data.val_split=holdout:0.2"]).data.val_split == "holdout:0.2"


# -- schedule and optimiser ----------------------------------------------------------------------
def test_linear_decay_schedule_with_booster():
    o = TrainConfig().optim  # base 1e-7, booster 500, warm-up 25 epochs
    assert lr_at(0, o, 100) == pytest.approx(1e-7)
    assert lr_at(12.5, o, 100) == pytest.approx(1e-7 * (1 + 499 * 0.5))
    assert lr_at(25, o, 100) == pytest.approx(5e-5)
    assert lr_at(62.5, o, 100) == pytest.approx(2.5e-5)
    assert lr_at(100, o, 100) == pytest.approx(0.0)


# (the SAM test moved with SAM to tests/test_training_sam.py)


# -- data (the generic pair sampling and hold-out moved with the generator to tests/test_synthesis_pairs.py)
def test_collate_puts_reals_first_with_zero_targets():
    item = {"real": torch.zeros(3, 4, 4, dtype=torch.uint8), "fake": torch.ones(3, 4, 4, dtype=torch.uint8),
            "heatmap": torch.ones(1, 2, 2), "consistency": torch.ones(1, 2, 2)}
    b = collate_pairs([item, item])
    assert b["labels"].tolist() == [0, 0, 1, 1]
    assert b["heatmap"][:2].sum() == 0 and b["heatmap"][2:].sum() == 8
    assert (b["images"][2:] == 1).all()


# -- training -----------------------------------------------------------------------------------
def test_short_cpu_run_losses_finite_and_falling(tmp_path):
    res = train(tiny_config(tmp_path, "run.epochs=2"), resume=False)
    steps = res.step_losses
    assert len(steps) == 24 and res.epochs_done == 2
    for s in steps:
        assert all(math.isfinite(s[k]) for k in ("hm", "cls", "cst", "total"))
    first = np.mean([s["total"] for s in steps[:6]])
    last = np.mean([s["total"] for s in steps[-6:]])
    assert last < first
    # checkpoint + selected weights on the source validation split, recorded in the weights
    assert (tmp_path / "last.pt").exists()
    import json

    cfg = json.loads((tmp_path / "best" / "config.json").read_text())
    assert cfg["variant"] == "test" and "validation split" in cfg["selection"]["rule"]
    assert cfg["selection"]["split"] == "faces:4:val"
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_resume_continues_to_the_same_weights(tmp_path):
    full = train(tiny_config(tmp_path / "a", "run.epochs=2", "run.steps_per_epoch=3"), resume=False)
    part = train(tiny_config(tmp_path / "b", "run.epochs=2", "run.steps_per_epoch=3"), resume=False,
                 stop_after_epochs=1)
    assert part.epochs_done == 1
    resumed = train(tiny_config(tmp_path / "b", "run.epochs=2", "run.steps_per_epoch=3"), resume=True)
    assert resumed.epochs_done == 2 and resumed.steps_done == full.steps_done == 6
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_accumulation_keeps_the_loss_normalisation(tmp_path):
    """Two micro-batches see the same total loss as one batch (BN aside: dropout off, eval BN)."""
    from dfbench.synthesis.task import pair_micro_batches as _micro_batches

    cfg = tiny_config(tmp_path, "model.overrides.dropout=0", "model.overrides.drop_path_rate=0",
                      "optim.sam=false")
    t, task = _trainer(cfg)
    batch = collate_pairs([t.train_set[i] for i in range(2)])
    task.net.eval()  # batch statistics differ per micro-batch; the normalisers must not
    from dfbench_laanet.losses import LossNorm

    task.begin_step(batch)
    assert task.norm == LossNorm.from_targets(batch["heatmap"])
    one = t.forward_backward([batch])
    g1 = [p.grad.clone() for p in t.params]
    t.optimizer.zero_grad(set_to_none=True)
    two = t.forward_backward(list(_micro_batches(batch, 2)))
    g2 = [p.grad.clone() for p in t.params]
    assert two["total"] == pytest.approx(one["total"], rel=1e-5)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_bn_momentum_and_input_size_overrides_reach_the_network(tmp_path):
    """Short from-scratch runs (the demo) raise BN momentum and may train at another input size."""
    t, task = _trainer(tiny_config(tmp_path, "run.bn_momentum=0.1", "model.overrides.image_size=96",
                                   "model.overrides.native_size=96"))
    moms = {m.momentum for m in task.net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)}
    assert moms == {0.1}
    assert task.detector.input_spec.size == 96
    assert t.train_set[0]["real"].shape == (3, 96, 96)
    # default: the model's own momenta (0.01 in the TF-style backbone) are kept
    _, task0 = _trainer(tiny_config(tmp_path / "b"), data=False)
    assert 0.01 in {m.momentum for m in task0.net.modules() if isinstance(m, torch.nn.BatchNorm2d)}


@pytest.mark.parametrize("pairs,accum", [(2, 1), (3, 1), (4, 1), (5, 2), (8, 1), (8, 3), (8, 8)])
def test_cross_pairs_never_puts_a_real_with_its_own_fake(pairs, accum):
    from dfbench_laanet.train import cross_pairs

    from dfbench.synthesis.task import pair_micro_batches as _micro_batches

    frame = torch.arange(pairs, dtype=torch.float32)
    batch = {"images": torch.cat([frame, frame]).view(-1, 1, 1, 1),  # "pixel" = frame id
             "labels": torch.cat([torch.zeros(pairs), torch.ones(pairs)])}
    crossed, n = cross_pairs(batch, accum)
    assert n >= accum
    seen = []
    for mb in _micro_batches(crossed, n):
        ids, lab = mb["images"].view(-1), mb["labels"]
        assert not set(ids[lab == 0].tolist()) & set(ids[lab == 1].tolist())
        assert (lab == 0).sum() == (lab == 1).sum() > 0  # balanced micro-batches
        seen += [(int(i), int(y)) for i, y in zip(ids, lab, strict=True)]
    assert sorted(seen) == sorted((i, y) for y in (0, 1) for i in range(pairs))  # nothing lost


def test_cross_pairs_keeps_the_loss_of_the_joint_batch(tmp_path):
    """Crossing changes BatchNorm batches only: in eval-mode BN the loss is the joint one."""
    from dfbench_laanet.train import cross_pairs

    from dfbench.synthesis.task import pair_micro_batches as _micro_batches

    t, task = _trainer(tiny_config(tmp_path, "model.overrides.dropout=0", "model.overrides.drop_path_rate=0",
                                   "optim.sam=false"))
    batch = collate_pairs([t.train_set[i] for i in range(2)])
    task.net.eval()
    task.begin_step(batch)
    one = t.forward_backward([batch])
    t.optimizer.zero_grad(set_to_none=True)
    crossed, n = cross_pairs(batch)
    two = t.forward_backward(list(_micro_batches(crossed, n)))
    assert two["total"] == pytest.approx(one["total"], rel=1e-5)


def test_dataset_source_reads_real_videos_through_the_evaluation_path(tmp_path):
    """``data.source: dataset:NAME`` indexes through the registry (root resolution included),
    keeps the real videos and crops them with the evaluation FaceStage into the shared crop cache:
    a second, evaluation-style read of a video hits that cache and returns the same crops."""
    from dfbench_laanet.train import build_detector_for

    from dfbench.synthesis.sources import load_training_videos
    from dfbench.training.data import face_stage, training_items

    cfg = load_config(None, ["data.source=dataset:demo", "data.extract_frames=2", "model.variant=test",
                             f"data.cache_dir={tmp_path / 'crops'}"])
    spec_in = build_detector_for(cfg).input_spec
    videos = load_training_videos(cfg, "train", spec_in)
    assert len(videos) == 16 and all("/real/" in v.key for v in videos)
    assert videos[0].frames[0].shape == (256, 256, 3) and videos[0].landmarks[0].shape[1] == 2
    ds_spec, items = training_items("demo", "train", labels=(0,))
    stage = face_stage(spec_in, ds_spec, cache_dir=tmp_path / "crops", frames_per_video=2, size=256)
    item = next(it for it in items if it.key == videos[0].key)
    pv = stage.prepare(item)
    assert pv.timing["cache_hits"] == 1
    np.testing.assert_array_equal(pv.units[0].transpose(1, 2, 0), videos[0].frames[0])
