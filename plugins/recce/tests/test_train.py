"""Training: every loss term goes down, exact resume after a kill, batch of one, config handling."""

from __future__ import annotations

import json

import pytest
import torch
from dfbench_recce.config import ConfigError, load_config
from dfbench_recce.losses import RecceLoss, metric_loss, reconstruction_loss
from dfbench_recce.train import train
from recce_synthetic import synthetic_crops


def _cfg(tmp_path, name="run", **sets):
    base = {"variant": "test", "out_dir": str(tmp_path / name), "epochs": 6, "batch_size": 8,
            "eval_batch_size": 16, "optim.lr": 2e-3, "scheduler.step_size": 100,
            "early_stopping.patience": 100, "log_every": 0, "data.hflip": 0.5}
    base.update(sets)
    return load_config(None, [f"{k}={json.dumps(v)}" for k, v in base.items()])


@pytest.fixture(scope="module")
def data():
    # 25 samples with batch 8: the last batch of every epoch holds a single image.
    return synthetic_crops(25, seed=0), synthetic_crops(12, seed=1)


def test_short_run_lowers_every_loss_term_and_selects_on_val(tmp_path, data):
    torch.manual_seed(0)
    result = train(_cfg(tmp_path), train_dataset=data[0], val_dataset=data[1])
    hist = result["history"]
    first, last = hist[0]["train"], hist[-1]["train"]
    for term in ("loss", "bce", "recons", "metric"):
        assert last[term] < first[term], (term, first[term], last[term])
    cfg = json.loads((tmp_path / "run" / "best" / "config.json").read_text())
    assert cfg["selection"]["split"] == "val" and cfg["selection"]["epoch"] == result["best_epoch"] + 1
    assert cfg["variant"] == "test" and cfg["detector"] == "recce"
    assert result["best_value"] > 0.5  # the held-out synthetic fakes are told apart


def test_gf_variant_trains_with_the_same_loop(tmp_path, data):
    result = train(_cfg(tmp_path, variant="test_gf", epochs=3), train_dataset=data[0], val_dataset=data[1])
    hist = result["history"]
    assert hist[-1]["train"]["loss"] < hist[0]["train"]["loss"]
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert ckpt["model"]["gf.gamma"].abs().sum() > 0  # the frequency branch was switched on by training


class _KillAt(torch.utils.data.Dataset):
    """Raises KeyboardInterrupt (a stand-in for SIGKILL) on the n-th item read, once."""

    def __init__(self, ds, n):
        self.ds, self.n, self.count = ds, n, 0

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        self.count += 1
        if self.count == self.n:
            raise KeyboardInterrupt
        return self.ds[i]


def test_resume_after_kill_is_exact(tmp_path, data):
    train_ds, val_ds = data
    train(_cfg(tmp_path, "straight", epochs=3), train_dataset=train_ds, val_dataset=val_ds)
    killer = _KillAt(train_ds, n=len(train_ds) + 10)  # mid-way through the second epoch
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tmp_path, "killed", epochs=3), train_dataset=killer, val_dataset=val_ds)
    assert json.loads((tmp_path / "killed" / "selection.json").read_text())["epoch"] == 1  # first epoch
    train(_cfg(tmp_path, "killed", epochs=3), train_dataset=killer, val_dataset=val_ds)
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "killed" / "last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 3  # epochs done
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert [h["val"] for h in a["history"]] == [h["val"] for h in b["history"]]


def test_early_stopping_stops_and_resume_respects_it(tmp_path, data):
    cfg = _cfg(tmp_path, epochs=10, **{"early_stopping.patience": 1, "early_stopping.metric": "loss", "early_stopping.min_delta": 10.0,
                                       "optim.lr": 0.0, "optim.weight_decay": 0.0})
    result = train(cfg, train_dataset=data[0], val_dataset=data[1])
    # min_delta 10: nothing counts as an improvement after epoch 0 -> stop after epoch 1.
    assert result["best_epoch"] == 0 and len(result["history"]) == 2
    again = train(cfg, train_dataset=data[0], val_dataset=data[1])
    assert len(again["history"]) == 2


@pytest.mark.parametrize("variant", ["test", "test_gf"])
def test_bf16_and_channels_last_train_on_cpu(tmp_path, data, variant):
    result = train(_cfg(tmp_path, variant=variant, epochs=1, precision="bf16", channels_last=True, **{"optim.name": "adamw", "optim.fused": True}),
                   train_dataset=data[0], val_dataset=data[1])
    assert all(torch.isfinite(torch.tensor(v)) for v in result["history"][0]["train"].values())


def test_single_image_dataset_does_not_crash(tmp_path, data):
    one = torch.utils.data.Subset(data[0], [1])
    train(_cfg(tmp_path, epochs=1, batch_size=4), train_dataset=one, val_dataset=data[1])


def test_losses_semantics():
    labels = torch.tensor([0, 0, 1, 1])
    x = torch.zeros(4, 3, 8, 8)
    recons = torch.zeros(4, 3, 8, 8)
    recons[2:] = 1.0  # fakes reconstruct badly: no penalty, reconstruction is learnt on reals only
    assert reconstruction_loss(recons, x, labels) == 0
    recons[0] = 0.5
    assert torch.isclose(reconstruction_loss(recons, x, labels), torch.tensor(0.25))
    ideal = torch.tensor([[1.0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]])
    worst = 1 - ideal + torch.eye(4)
    assert metric_loss([ideal], labels) < 1e-5 and metric_loss([worst], labels) > 1.99
    out = {"logits": torch.zeros(4, 1), "recons": recons, "contra": [ideal, ideal, ideal]}
    terms = RecceLoss(0.1, 0.1)(out, x, labels)
    assert torch.isclose(terms["loss"], terms["bce"] + 0.1 * terms["recons"] + 0.1 * terms["metric"])


def test_config_overrides_and_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("variant: gf\noptim:\n  lr: 1.0e-3\ndata:\n  train: /x\n")
    cfg = load_config(path, ["optim.lr=5e-4", "epochs=2", "precision=bf16"])
    assert cfg.variant == "gf" and cfg.optim.lr == 5e-4 and cfg.epochs == 2 and cfg.data.train == "/x"
    with pytest.raises(ConfigError, match="optim"):
        load_config(path, ["optimm.lr=1"])
    with pytest.raises(ConfigError, match="test split"):
        load_config(path, ["data.val_split=test"])
    with pytest.raises(ConfigError, match=r"data.val_fraction must lie in \[0, 1\)"):
        load_config(path, ["data.val_fraction=1.0"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(path, ["epochs"])


def test_lite_variants_and_augment_config_are_validated(tmp_path):
    cfg = load_config(None, ["variant=lite_gf", "data.augment.scale=0.05", "data.augment.colour=0.2"])
    assert cfg.variant == "lite_gf" and cfg.data.augment.scale == 0.05 and cfg.data.augment.shift == 0.0
    with pytest.raises(ConfigError, match="variant must be one of"):
        load_config(None, ["variant=huge"])
    with pytest.raises(ConfigError, match="augment"):
        load_config(None, ["data.augment.shift=0.7"])
    with pytest.raises(ConfigError, match="colur"):
        load_config(None, ["data.augment.colur=0.1"])


def test_augmented_run_trains_and_export_records_tag_without_local_paths(tmp_path, data):
    from dfbench_recce.train import export_weights

    result = train(_cfg(tmp_path, epochs=2, **{"data.augment.scale": 0.1, "data.augment.shift": 0.05,
                                               "data.augment.colour": 0.2}),
                   train_dataset=data[0], val_dataset=data[1])
    out = export_weights(result["weights_dir"], tmp_path / "shipped", "bfloat16", tag="demo",
                         card={"trained_on": "synthetic"})
    text = (out / "config.json").read_text()
    cfg = json.loads(text)
    assert cfg["tag"] == "demo" and cfg["stored_dtype"] == "bfloat16" and cfg["card"]["trained_on"] == "synthetic"
    assert cfg["training"]["out_dir"] == "run" and str(tmp_path) not in text
    assert cfg["training"]["data"]["augment"] == {"scale": 0.1, "shift": 0.05, "colour": 0.2}
