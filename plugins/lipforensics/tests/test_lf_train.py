"""Fine-tuning: the loss goes down, frozen parts stay frozen, a killed run resumes exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from dfbench_lipforensics.config import TrainConfigError, load_config
from dfbench_lipforensics.data import ClipsInMemory, clip_dataset_from_crops
from dfbench_lipforensics.spec import SPEC
from dfbench_lipforensics.train import train

from dfbench.weights import read_weights_dir


def synthetic_clips(
    n_videos: int, seed: int, clips_per_video: int = 2, t: int = 5, size: int = 24
) -> ClipsInMemory:
    """Real videos: a still mouth texture; fake videos: the texture re-drawn every frame (temporal
    incoherence, the cue LipForensics looks for)."""
    rng = np.random.default_rng(seed)
    clips, labels, keys = [], [], []
    for v in range(n_videos):
        label = v % 2
        for _ in range(clips_per_video):
            base = rng.integers(60, 200, (1, size, size))
            frames = [
                base + (rng.integers(-50, 50, (1, size, size)) if label else 0) for _ in range(t)
            ]
            clips.append(np.clip(np.stack(frames), 0, 255).astype(np.uint8))
            labels.append(label)
            keys.append(f"synth/{'fake' if label else 'real'}/m/{seed}_{v}")
    return ClipsInMemory(np.stack(clips), labels, keys)


@pytest.fixture(scope="module")
def data():
    return synthetic_clips(16, seed=0), synthetic_clips(8, seed=1)


def _cfg(tmp_path, **kw):
    base = {
        "variant": "test_ta",
        "out_dir": str(tmp_path / "run"),
        "epochs": 2,
        "batch_size": 8,
        "precision": "fp32",
        "threads": 1,
        "log_every": 0,
        "optim": {"lr": 3e-3},
    }
    base.update(kw)
    return load_config(None, [f"{k}={json.dumps(v)}" for k, v in base.items()])


def test_short_fine_tune_lowers_the_loss_and_keeps_trunk_frozen(tmp_path, data):
    cfg = _cfg(tmp_path, epochs=6, precision="bf16")
    torch.manual_seed(0)
    ref = SPEC.build("test_ta")
    losses: list[float] = []
    summary = train(
        cfg, train_data=data[0], val_data=data[1], on_step=lambda s, loss: losses.append(loss)
    )
    assert len(losses) == 6 * 4
    assert np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4])
    hist = summary["history"]
    assert hist[-1]["val_loss"] < hist[0]["val_loss"]
    # Selection is recorded and reads the validation split only.
    sel = summary["selection"]
    assert sel["metric"] == "val_auc" and sel["split"] == "demo/val"
    state, config = read_weights_dir(tmp_path / "run" / "best")
    assert config["variant"] == "test_ta" and "validation" in config["selection"]["rule"]
    assert config["selection"]["epoch"] == sel["epoch"]
    # The front end and trunk are untouched; the TCN and attention moved.
    for k, v in ref.state_dict().items():
        if k.startswith(("net.frontend3D.", "net.trunk.")):
            assert torch.equal(state[k], v), k
    assert not torch.equal(
        state["net.tcn.attention.score.weight"], ref.state_dict()["net.tcn.attention.score.weight"]
    )
    det = SPEC.build("test_ta")
    det.load_state_dict(state)
    assert det(det.example_input()).shape == (2,)


def test_killed_run_resumes_to_the_same_weights(tmp_path, data):
    a = _cfg(tmp_path / "a", checkpoint_every_steps=2, cache_features=False)
    full = train(a, train_data=data[0], val_data=data[1])

    b = _cfg(tmp_path / "b", checkpoint_every_steps=2, cache_features=False)

    def kill(step: int, loss: float) -> None:
        if (
            step == 7
        ):  # 4 steps per epoch: after the mid-epoch checkpoint at step 6, before epoch end
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(b, train_data=data[0], val_data=data[1], on_step=kill)
    ck = torch.load(tmp_path / "b" / "run" / "last.pt", weights_only=True)
    assert (ck["epoch"], ck["step"], ck["step_in_epoch"]) == (1, 6, 2)
    resumed = train(b, train_data=data[0], val_data=data[1])
    assert resumed["steps"] == full["steps"] == 8
    assert [h["val_loss"] for h in resumed["history"]] == [h["val_loss"] for h in full["history"]]
    wa = torch.load(tmp_path / "a" / "run" / "last.pt", weights_only=True)["model"]
    wb = torch.load(tmp_path / "b" / "run" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_feature_cache_matches_full_forward(tmp_path, data):
    a = train(_cfg(tmp_path / "a", epochs=1), train_data=data[0], val_data=data[1])
    b = train(
        _cfg(tmp_path / "b", epochs=1, cache_features=False), train_data=data[0], val_data=data[1]
    )
    assert a["history"][0]["val_loss"] == pytest.approx(b["history"][0]["val_loss"], rel=1e-4)


def test_config_yaml_and_overrides(tmp_path):
    p = tmp_path / "cfg.yaml"
    p.write_text(
        "variant: r18_ta\nepochs: 4\noptim:\n  lr: 0.001\ndata:\n  dataset: ffpp_c23\n  max_frames: 110\n"
    )
    cfg = load_config(p, ["optim.lr=2e-4", "data.val_split=val", "freeze=false"])
    assert (cfg.variant, cfg.epochs, cfg.optim.lr, cfg.freeze) == ("r18_ta", 4, 2e-4, False)
    assert cfg.data.dataset == "ffpp_c23" and cfg.data.max_frames == 110
    with pytest.raises(TrainConfigError, match="unknown key"):
        load_config(p, ["optim.learning_rate=1"])
    with pytest.raises(TrainConfigError, match="precision"):
        load_config(p, ["precision=fp8"])
    # Selection never reads the evaluation test split; one precision vocabulary across the project.
    with pytest.raises(TrainConfigError, match="must not read the test split"):
        load_config(p, ["data.val_split=test"])
    assert load_config(p, ["precision=fp64"]).precision == "fp64"


def test_clip_dataset_counts_short_videos_and_applies_max_frames():
    frame = np.full((24, 24), 100, np.uint8)
    videos = [
        ("d/real/m/long", 0, np.stack([frame] * 130)),  # 110 leading frames -> 4 clips
        ("d/fake/m/short", 1, np.stack([frame] * 24)),  # < 25 frames -> counted, no clip
        ("d/fake/m/holes", 1, [frame] * 30 + [None] + [frame] * 30),  # clip 2 has a missing face
    ]
    ds = clip_dataset_from_crops(videos, clip_length=25, max_frames=110)
    assert ds.stats["short_videos"] == 1 and ds.stats["clips_dropped_missing_face"] == 1
    assert ds.video_keys.count("d/real/m/long") == 4 and ds.video_keys.count("d/fake/m/holes") == 1
    clip, label = ds[0]
    assert clip.shape == (25, 1, 24, 24) and clip.dtype == torch.uint8 and label == 0


def test_holdout_validation_is_by_video_stratified_and_disjoint(tmp_path):
    from dfbench_lipforensics.data import holdout_split

    ds = synthetic_clips(12, seed=3)  # 6 real + 6 fake videos, 2 clips each
    tr, va = holdout_split(ds, 0.25, seed=0)
    assert set(tr.video_keys).isdisjoint(va.video_keys)
    assert len(tr) + len(va) == len(ds)
    assert sorted(set(va.labels.tolist())) == [0, 1] and len(set(va.video_keys)) == 4
    assert (tr.stats["videos"], va.stats["videos"]) == (8, 4)
    assert holdout_split(ds, 0.25, seed=0)[1].video_keys == va.video_keys
    summary = train(_cfg(tmp_path, epochs=1, data={"val_fraction": 0.25}), train_data=ds)
    assert summary["val_clips"] == len(va) and "held-out 25%" in summary["selection"]["split"]


def counting_videos(n_videos: int, n_frames: int = 7, t: int = 3, size: int = 28) -> ClipsInMemory:
    """Pixel (frame f, column c) = 32 f + c: the crop offset, a flip and the frame index of every
    frame of a clip can be read back from its first row."""
    frames = np.stack([32 * f + np.arange(size)[None, :].repeat(size, 0) for f in range(n_frames)])
    videos = [
        (f"d/{'fake' if v % 2 else 'real'}/m/{v}", v % 2, frames.astype(np.uint8))
        for v in range(n_videos)
    ]
    return clip_dataset_from_crops(videos, clip_length=t)


def test_clip_sampler_crops_flips_and_offsets_within_one_video():
    from dfbench_lipforensics.augment import ClipSampler
    from dfbench_lipforensics.config import AugmentConfig

    ds = counting_videos(4)  # 7 frames -> clips at 0 and 3 (frame 6 belongs to no clip)
    assert ds.starts.tolist() == [0, 3] * 4
    s = ClipSampler(ds, 24, AugmentConfig(crop=4, hflip=0.5, time_offset=True))
    starts, flips, offsets = set(), set(), set()
    for b in range(40):
        x = s.train_batch([0, 3, 6], (0, 0, b)).numpy().astype(np.int64)
        assert x.shape == (3, 3, 1, 24, 24)
        for row in x[:, :, 0, 0, :]:  # [T, W] first row of each frame of one clip
            flipped = bool(row[0, 0] > row[0, -1])
            left = row[:, -1] if flipped else row[:, 0]  # 32 * frame + crop offset
            frames, offset = left // 32, left % 32
            # Consecutive frames of the clips' contiguous run (frames 0-5), one offset per clip.
            assert (np.diff(frames) == 1).all() and 0 <= frames[0] <= 3, frames
            assert len(set(offset.tolist())) == 1
            starts.add(int(frames[0]))
            flips.add(flipped)
            offsets.add(int(offset[0]))
    assert starts == set(range(4)) and flips == {False, True} and offsets == set(range(5))
    # Pure function of the seed (resume replays it); validation gets the evaluation centre crop.
    assert torch.equal(s.train_batch([1, 2], (3, 1, 2)), s.train_batch([1, 2], (3, 1, 2)))
    assert torch.equal(s.eval_batch(0, 2), torch.from_numpy(ds.clips[0:2, ..., 2:26, 2:26]))
    no_starts = ClipsInMemory(ds.clips, ds.labels.tolist(), ds.video_keys)
    with pytest.raises(ValueError, match="first frame of each clip"):
        ClipSampler(no_starts, 24, AugmentConfig(time_offset=True))


def test_train_everything_with_augmentation_resumes_exactly_and_is_recorded(tmp_path):
    """``freeze: false`` (the demo's from-scratch recipe) moves the trunk too; augmentation keeps
    the resume contract; the weights say what was trained and how."""
    tr, va = synthetic_clips(8, seed=0, size=28), synthetic_clips(4, seed=1, size=28)
    tr.starts = np.array([0, 5] * 8)  # two consecutive 5-frame clips per video
    aug = {"crop": 4, "hflip": 0.5, "time_offset": True}
    kw = dict(freeze=False, augment=aug, epochs=2, batch_size=4, checkpoint_every_steps=3)
    full = train(_cfg(tmp_path / "a", **kw), train_data=tr, val_data=va)

    def kill(step: int, loss: float) -> None:
        if step == 5:
            raise KeyboardInterrupt

    b = _cfg(tmp_path / "b", **kw)
    with pytest.raises(KeyboardInterrupt):
        train(b, train_data=tr, val_data=va, on_step=kill)
    resumed = train(b, train_data=tr, val_data=va)
    assert [h["val_loss"] for h in resumed["history"]] == [h["val_loss"] for h in full["history"]]
    wa = torch.load(tmp_path / "a" / "run" / "last.pt", weights_only=True)["model"]
    wb = torch.load(tmp_path / "b" / "run" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)

    torch.manual_seed(0)
    ref = SPEC.build("test_ta").state_dict()
    state, config = read_weights_dir(tmp_path / "a" / "run" / "best")
    assert not torch.equal(state["net.frontend3D.0.weight"], ref["net.frontend3D.0.weight"])
    assert config["training"]["trained"].startswith("whole network")
    assert "from scratch" in config["training"]["trained"]
    assert config["training"]["augment"] == {**aug, "hflip": 0.5}
    assert full["config"]["freeze"] is False
