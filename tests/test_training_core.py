"""The training core (dfbench.training): config loader, batch order, selection data, the loop.

Exact resume after ``kill -9`` and "2 processes == 1 process with the doubled batch" are checked
here once, on a tiny task (tests/training_tiny_task.py); each family checks its own ``test``
variant in its plugin's tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from training_tiny_task import TinyTask, tiny_config  # noqa: E402

from dfbench.testing.dist import assert_weights_match  # noqa: E402
from dfbench.testing.resume import (  # noqa: E402
    assert_same_checkpoint,
    kill_at_first_checkpoint,
    resume,
    training_env,
)
from dfbench.training.config import ConfigError, load_config  # noqa: E402
from dfbench.training.data import (  # noqa: E402
    TrainingDataError,
    check_selection_split,
    epoch_batches,
    holdout_keys,
)
from dfbench.training.runtime import TrainingError, resolve_precision  # noqa: E402
from dfbench.training.trainer import Trainer, train  # noqa: E402

TINY = Path(__file__).with_name("training_tiny_task.py")


# -- config ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Inner:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    steps: int = 10
    cap: float | None = None


@dataclass(frozen=True)
class _Cfg:
    name: str = "x"
    fast: bool = False
    inner: _Inner = field(default_factory=_Inner)
    extra: dict = field(default_factory=dict)


def test_config_yaml_then_overrides_typed_once(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("inner:\n  lr: 1e-4\n  betas: [0.5, 0.9]\nextra: {a: 1}\n")  # YAML 1.1: 1e-4 is a str
    cfg = load_config(_Cfg, p, ["inner.steps=3", "inner.cap=5e-1", "extra.b=2", "fast=true"])
    assert cfg.inner.lr == 1e-4 and isinstance(cfg.inner.lr, float)
    assert cfg.inner.betas == (0.5, 0.9) and cfg.inner.steps == 3 and cfg.inner.cap == 0.5
    assert cfg.extra == {"a": 1, "b": 2} and cfg.fast is True


def test_config_errors_name_the_key_and_the_source(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("inner:\n  lrr: 1\n")
    with pytest.raises(ConfigError, match=rf"{p}: unknown key 'inner.lrr'. Did you mean 'inner.lr'"):
        load_config(_Cfg, p)
    with pytest.raises(ConfigError, match=r"--set: inner.steps expects an integer, got 'many'"):
        load_config(_Cfg, None, ["inner.steps=many"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(_Cfg, None, ["inner.steps"])
    with pytest.raises(ConfigError, match="fast expects true/false"):
        load_config(_Cfg, None, ["fast=3"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(_Cfg, tmp_path / "missing.yaml")


# -- data order and selection data --------------------------------------------------------------
def test_two_ranks_see_the_single_process_batches():
    single = epoch_batches(20, 4, seed=1, epoch=2)
    r0 = epoch_batches(20, 2, rank=0, world=2, seed=1, epoch=2)
    r1 = epoch_batches(20, 2, rank=1, world=2, seed=1, epoch=2)
    assert [a + b for a, b in zip(r0, r1, strict=True)] == single
    assert epoch_batches(20, 4, seed=1, epoch=3) != single  # re-shuffled every epoch
    assert len(epoch_batches(20, 4, max_steps=2)) == 2
    # Without drop_last, the partial last batch is padded so no process gets an empty slice.
    last = [epoch_batches(9, 4, rank=r, world=2, drop_last=False)[-1] for r in (0, 1)]
    assert all(len(b) == 1 for b in last)


def test_holdout_by_video_is_stratified_deterministic_and_leaves_training_data():
    keys = [f"v{i}" for i in range(12) for _ in range(3)]  # 3 frames per video
    labels = [i % 2 for i in range(12) for _ in range(3)]
    held = holdout_keys(keys, 0.25, seed=0, labels=labels)
    assert len(held) == 4 and {int(k[1:]) % 2 for k in held} == {0, 1}
    assert holdout_keys(list(reversed(keys)), 0.25, 0, list(reversed(labels))) == held
    assert len(holdout_keys(["a", "b"], 0.9)) == 1  # one video always stays for training
    assert holdout_keys(["only"], 0.5) == set()


def test_selection_split_never_equals_the_test_split():
    with pytest.raises(TrainingDataError, match="must not read the test split"):
        check_selection_split("test")
    with pytest.raises(TrainingDataError, match="training split must not be the test split"):
        check_selection_split("val", train_split="test")
    check_selection_split("val", train_split="train")


def test_one_precision_vocabulary():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "bf16" and resolve_precision("fp64", cpu) == "fp64"
    with pytest.raises(TrainingError, match="needs CUDA"):
        resolve_precision("fp16", cpu)
    with pytest.raises(TrainingError, match="auto, fp32, bf16, fp16, fp64"):
        resolve_precision("fp8", cpu)


# -- the loop ----------------------------------------------------------------------------------------
def _weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "last.pt", weights_only=True)["model"]


def test_tiny_run_selects_on_validation_with_dfbench_metrics(tmp_path):
    from dfbench.metrics import frame_metrics

    res = train(TinyTask(tiny_config(f"out_dir={tmp_path}", "epochs=4")), resume=False)
    assert res.epochs_done == 4 and res.steps_done == 4 * 6
    sel = json.loads((tmp_path / "selection.json").read_text())
    cfg = json.loads((tmp_path / "best" / "config.json").read_text())
    assert cfg["selection"] == sel and sel["split"] == "tiny/val" and "no test data" in sel["rule"]
    assert sel["epoch"] == max(res.history, key=lambda h: (h["val"]["val_auc"], -h["val"]["val_loss"]))["epoch"]
    # The validation AUC is the one dfbench.metrics reports for the same logits.
    task = TinyTask(tiny_config(f"out_dir={tmp_path}"))
    t = Trainer(task)
    t.setup_data()
    t.resume()
    batch = task.collate([t.val_set[i] for i in range(len(t.val_set))])
    task.train_mode(False)
    with torch.no_grad():
        logits = task.forward(batch, train=False)["logits"]
    assert res.history[-1]["val"]["val_auc"] == frame_metrics(batch["labels"].tolist(), logits.tolist(),
                                                              bootstrap=0)["auc"]
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_mid_epoch_interrupt_resumes_exactly(tmp_path):
    common = ["epochs=2", "checkpoint_every_steps=2"]
    full = train(TinyTask(tiny_config(f"out_dir={tmp_path / 'a'}", *common)), resume=False)

    def stop(step: int, loss: float) -> None:
        if step == 9:  # 6 steps per epoch: after the mid-epoch checkpoint at step 8
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(TinyTask(tiny_config(f"out_dir={tmp_path / 'b'}", *common)), on_step=stop)
    ck = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert (ck["epoch"], ck["step"], ck["step_in_epoch"]) == (1, 8, 2)
    resumed = train(TinyTask(tiny_config(f"out_dir={tmp_path / 'b'}", *common)))
    assert resumed.steps_done == full.steps_done == 12
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_accumulation_and_fp64(tmp_path):
    """Two micro-batches give the gradient of the whole batch; fp64 trains in float64."""
    task = TinyTask(tiny_config(f"out_dir={tmp_path}", "dropout=0", "precision=fp64"))
    t = Trainer(task)
    t.setup_data()
    assert all(p.dtype == torch.float64 for p in t.params)
    task.train_mode(True)
    task.net.bn.eval()  # BatchNorm batch statistics differ per micro-batch by design
    batch = task.collate([t.train_set[i] for i in range(4)])
    t._n_global = 4
    one = t.forward_backward([batch])
    g1 = [p.grad.clone() for p in t.params]
    t.optimizer.zero_grad(set_to_none=True)
    two = t.forward_backward(task.micro_batches(batch, 2))
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-12)
    for a, b in zip(g1, [p.grad for p in t.params], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_selection_on_the_test_split_is_refused(tmp_path):
    from dfbench.training.data import check_selection_split

    task = TinyTask(tiny_config(f"out_dir={tmp_path}", "val_split=test"))
    with pytest.raises(TrainingDataError):
        check_selection_split(task.config.val_split)


@pytest.mark.acceptance
def test_kill_dash_nine_then_resume_gives_the_same_weights(tmp_path):
    common = ["epochs=4", "n_train=48", "checkpoint_every_steps=5"]
    subprocess.run([sys.executable, str(TINY), *common, f"out_dir={tmp_path / 'ref'}"], check=True,
                   env=training_env(), timeout=600)
    out = tmp_path / "killed"
    ck = kill_at_first_checkpoint([sys.executable, str(TINY), *common, f"out_dir={out}"], out)
    assert ck["epoch"] < 4, "the run finished before it could be killed"
    # Logging at INFO so the second run says where it resumed (resume() checks it).
    resume([sys.executable, "-c", "import logging, runpy, sys; logging.basicConfig(level=logging.INFO); "
            "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
            str(TINY), *common, f"out_dir={out}"], ck)
    assert_same_checkpoint(tmp_path / "ref", out)


@pytest.mark.acceptance
def test_two_processes_match_one_process_with_double_batch(tmp_path):
    common = ["epochs=2", "dropout=0"]  # dropout masks are per process, so off for this comparison
    subprocess.run([sys.executable, str(TINY), *common, "batch_size=4", f"out_dir={tmp_path / 'one'}"],
                   check=True, env=training_env(), timeout=600)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                    "29561", str(TINY), *common, "batch_size=2", f"out_dir={tmp_path / 'two'}"],
                   check=True, env=training_env(), timeout=600)
    one, two = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    ck = torch.load(tmp_path / "two" / "last.pt", weights_only=True)
    assert ck["world_size"] == 2 and len(ck["rng"]) == 2
    # Every float tensor within torch.testing.assert_close's rtol=1e-4, atol=1e-5 of the two-process
    # run (expected=two, as the test always compared), integer counters exactly.
    assert_weights_match(two, one, atol=1e-5, rtol=1e-4,
                         why="the tiny net has no bias before its BatchNorm (no Adam noise steps): "
                             "every tensor must agree")


# -- one command line for every family ---------------------------------------------------------------
@pytest.mark.parametrize("family", ["laanet", "lipforensics", "recce"])
def test_every_family_has_the_same_train_command(family):
    pytest.importorskip(f"dfbench_{family}")
    from click.testing import CliRunner

    from dfbench.cli import cli

    res = CliRunner().invoke(cli, [family, "train", "--help"])
    assert res.exit_code == 0, res.output
    for option in ("--config", "--set", "--resume / --no-resume", "--print-config", "--out"):
        assert option in res.output, (family, option)


def test_laanet_positional_overrides_still_work_with_a_deprecation_message():
    pytest.importorskip("dfbench_laanet")
    from click.testing import CliRunner

    from dfbench.cli import cli

    res = CliRunner().invoke(cli, ["laanet", "train", "--print-config", "run.epochs=3", "--set", "run.seed=5"])
    assert res.exit_code == 0, res.output
    assert "positional overrides are deprecated" in res.output and "--set run.epochs=3" in res.output
    assert "epochs: 3" in res.output and "seed: 5" in res.output
    res = CliRunner().invoke(cli, ["recce", "train", "--print-config", "epochs=3"])
    assert res.exit_code != 0 and "use --set KEY=VALUE" in res.output


# -- one converter signature, called only through the core ------------------------------------------
@pytest.mark.parametrize("family,variant", [("laanet", "test"), ("lipforensics", "test"), ("recce", "test")])
def test_core_convert_records_source_checksum_and_licence_for_every_family(tmp_path, family, variant):
    """``from_official(state_dict, variant) -> network`` everywhere; ``dfbench convert`` writes the
    source sha256 and the family's licence next to the weights (round trip through ``to_official``)."""
    import inspect

    plugin = pytest.importorskip(f"dfbench_{family}.convert")
    from dfbench.build import build_detector
    from dfbench.convert import convert_official
    from dfbench.registry import get_registry
    from dfbench.weights import read_weights_dir, sha256_file

    params = list(inspect.signature(plugin.from_official).parameters)
    assert params[1] == "variant"
    spec = get_registry().detectors[family]
    torch.manual_seed(0)
    net = spec.build(variant).net
    src = tmp_path / "official.pth"
    torch.save(plugin.to_official(net), src)
    out = convert_official(f"{family}_{variant}", src, tmp_path / "out")
    state, config = read_weights_dir(out)
    assert config["source_sha256"] == sha256_file(src) and config["license_note"] == spec.license
    assert config["converted_from"] == "official.pth" and config["variant"] == variant
    det = build_detector(f"{family}_{variant}", weights=str(out))
    for k, v in net.state_dict().items():
        assert torch.equal(det.net.state_dict()[k].to(v.dtype), v), k


def test_lipforensics_convert_duplicate_command_is_gone():
    pytest.importorskip("dfbench_lipforensics")
    from click.testing import CliRunner

    from dfbench.cli import cli

    res = CliRunner().invoke(cli, ["lipforensics", "convert", "--help"])
    assert res.exit_code != 0
    assert "--dtype" in CliRunner().invoke(cli, ["convert", "--help"]).output


def test_selection_record_reaches_runs_and_leaderboard_as_text(tmp_path):
    """Issue 12 item 7: the checkpoint records the selection split and rule, and what a run (and
    `leaderboard add`) shows of it is one line naming both — not the raw record, which the
    leaderboard schema would refuse."""
    from dfbench.build import selection_text
    from dfbench.leaderboard.entries import protocol_for

    train(TinyTask(tiny_config(f"out_dir={tmp_path}", "epochs=2")), resume=False)
    record = json.loads((tmp_path / "best" / "config.json").read_text())["selection"]
    text = selection_text(record)
    assert isinstance(text, str) and "tiny/val" in text and record["metric"] in text and "no test data" in text
    assert selection_text("picked on FF++ val by the authors") == "picked on FF++ val by the authors"
    assert selection_text(None) is None
    _, info = protocol_for({"protocol": {"checkpoint_selection": text, "frames": {"unit": "frame"}}}, "tiny")
    assert info["checkpoint_selection"] == text
