"""The packaged ``demo`` weights of LAA-Net: resolvable, pinned, documented, and actually trained.

They are the tiny ``test`` variant trained on the real videos of the offline ``demo`` dataset with
SBI pseudo-fakes (``dfbench_laanet/configs/demo.yaml``); the acceptance test re-runs the harness
evaluation the weights were accepted with.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch

WEIGHTS = resources.files("dfbench_laanet") / "weights" / "demo"
CONFIG = resources.files("dfbench_laanet") / "configs" / "demo.yaml"

pytestmark = pytest.mark.skipif(not (WEIGHTS / "model.safetensors").is_file(),
                                reason="demo weights not packaged in this install")


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


@pytest.fixture(scope="module")
def demo_detector():
    from dfbench.build import build_detector

    return build_detector("laanet_test.demo")


def test_demo_tag_is_registered_for_the_test_variant():
    from dfbench.registry import get_registry

    reg = get_registry(refresh=True)
    resolved = reg.resolve_detector("laanet_test.demo")
    assert resolved.variant.name == "test" and resolved.weights.tag == "demo"
    assert resolved.weights.source == "package://dfbench_laanet/weights/demo"
    assert len(resolved.weights.sha256) == 64


def test_weights_card_records_data_selection_and_recipe():
    from dfbench_laanet.config import TrainConfig, load_config

    cfg = json.loads((WEIGHTS / "config.json").read_text())
    assert cfg["variant"] == "test" and cfg["input"]["size"] == 64
    card = cfg["card"]
    assert card["trained_on"].startswith("demo/train (") and "SBI" in card["trained_on"]
    # selected on held-out TRAIN videos, never on the test split
    assert cfg["selection"]["split"] == "dataset:demo:holdout:0.25"
    assert "held-out" in card["selection"] and "test split was never read" in card["selection"]
    history = json.loads((WEIGHTS / "training_summary.json").read_text())["history"]
    assert cfg["selection"]["epoch"] == max(history, key=lambda h: h["val_auc"])["epoch"]
    # the recorded training config is the shipped demo.yaml (run paths aside)
    shipped = load_config(Path(str(CONFIG))).to_dict()
    used = TrainConfig.from_dict(cfg["train_config"]).to_dict()
    for d in (shipped, used):
        d["run"].pop("out_dir")
        d["data"].pop("cache_dir")
    assert used == shipped
    assert cfg["training_minutes"] <= 15.0
    assert (WEIGHTS / "model.safetensors").stat().st_size < 5_000_000


def test_demo_weights_load_with_their_pinned_hash(demo_detector):
    info = demo_detector.weights_info
    assert info["tag"] == "demo" and len(info["sha256"]) == 64
    assert "held-out" in info["selection"]


def test_demo_weights_rank_pseudo_fakes_above_reals(demo_detector):
    """On SBI pseudo-fakes of the offline portraits (the demo's identities, unseen frames) the
    trained weights separate fakes from reals; the untrained network does not."""
    from dfbench_laanet.spec import laanet_spec

    from dfbench.synthesis.pairs import portrait_videos
    from dfbench.synthesis.sbi import SBIGenerator

    gen = SBIGenerator(out_size=64, train=False)
    reals, fakes = [], []
    for i, v in enumerate(portrait_videos(8, frames=4, size=256, seed=3)):
        for f in range(len(v.frames)):
            pair = gen(v.frames[f], v.landmarks[f], np.random.default_rng([i, f]))
            reals.append(pair.real)
            fakes.append(pair.fake)
    x = torch.from_numpy(np.stack(reals + fakes)).permute(0, 3, 1, 2).contiguous()
    y = np.r_[np.zeros(len(reals)), np.ones(len(fakes))]
    with torch.no_grad():
        trained = _auc(y, demo_detector(x).numpy())
        untrained = _auc(y, laanet_spec().build("test")(x).numpy())
    assert trained > 0.65
    assert trained > untrained + 0.1


@pytest.mark.acceptance
def test_demo_weights_through_the_harness(tmp_path):
    """The acceptance run: registry name, ``laanet`` cropper, flip test, 32 frames per video."""
    from dfbench.runner import evaluate

    res = evaluate("laanet_test.demo", "demo", split="test", output=tmp_path, progress=False)
    assert res["counts"]["videos_scored"] == 24 and res["counts"]["videos_failed"] == 0
    assert res["detector"]["weights_tag"] == "demo" and res["protocol"]["flip_test"] is True
    assert res["metrics"]["video"]["auc"] >= 0.85  # measured 0.910 (issue #6 asks >= 0.9)
    # the blending-based fakes are the ones an SBI-trained detector should catch
    assert res["per_method"]["faceswap"]["auc"] >= 0.9
    assert res["per_method"]["lowres"]["auc"] >= 0.9
