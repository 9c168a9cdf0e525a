"""Bad weights are named in one line with the fix, never a library traceback (issue 12, item 13)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAANET_DEMO = ROOT / "plugins" / "laanet" / "dfbench_laanet" / "weights" / "demo"
RECCE_DEMO = ROOT / "plugins" / "recce" / "dfbench_recce" / "weights" / "lite_demo"


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst


def _config(d: Path) -> dict:
    return json.loads((d / "config.json").read_text())


def _write_config(d: Path, cfg: dict) -> None:
    (d / "config.json").write_text(json.dumps(cfg, indent=2))


def _build(weights: Path, det_id: str = "laanet_test"):
    from dfbench.build import build_detector

    return build_detector(det_id, weights=str(weights))


def _one_line(e) -> str:
    msg = str(e.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def test_the_pristine_copy_loads(tmp_path):
    det = _build(_copy(LAANET_DEMO, tmp_path))
    assert det.trained


def test_truncated_safetensors_names_the_file(tmp_path):
    from dfbench.errors import WeightsError

    d = _copy(LAANET_DEMO, tmp_path)
    blob = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(blob[: len(blob) // 2])
    cfg = _config(d)
    cfg.pop("sha256")  # without a recorded checksum the safetensors reader meets the truncation itself
    _write_config(d, cfg)
    with pytest.raises(WeightsError) as e:
        _build(d)
    msg = _one_line(e)
    assert str(d / "model.safetensors") in msg and "truncated" in msg and "dfbench convert" in msg


def test_checksum_in_config_must_match_the_file(tmp_path):
    from dfbench.errors import WeightsError

    d = _copy(LAANET_DEMO, tmp_path)
    cfg = _config(d)
    cfg["sha256"] = "0" * 64
    _write_config(d, cfg)
    with pytest.raises(WeightsError) as e:
        _build(d)
    msg = _one_line(e)
    assert "sha256 mismatch" in msg and str(d / "config.json") in msg and "0" * 64 in msg
    # A truncated file with its checksum still recorded is caught by the checksum.
    d2 = _copy(LAANET_DEMO, tmp_path / "b")
    blob = (d2 / "model.safetensors").read_bytes()
    (d2 / "model.safetensors").write_bytes(blob[:-100])
    with pytest.raises(WeightsError, match="changed, truncated or corrupted"):
        _build(d2)


def test_broken_config_json_names_the_file(tmp_path):
    from dfbench.errors import WeightsError

    d = _copy(LAANET_DEMO, tmp_path)
    (d / "config.json").write_text('{"detector": "laanet", "variant": ')
    with pytest.raises(WeightsError) as e:
        _build(d)
    msg = _one_line(e)
    assert str(d / "config.json") in msg and "not valid JSON" in msg and "line 1" in msg


def test_tensor_of_the_wrong_shape_is_named(tmp_path):
    from safetensors.torch import load_file, save_file

    from dfbench.errors import WeightsError
    from dfbench.fileio import sha256_file

    d = _copy(LAANET_DEMO, tmp_path)
    state = load_file(str(d / "model.safetensors"))
    key = next(k for k, v in state.items() if v.ndim == 4)
    state[key] = state[key][:, :1].contiguous()
    save_file(state, str(d / "model.safetensors"))
    cfg = _config(d)
    cfg["sha256"] = sha256_file(d / "model.safetensors")
    _write_config(d, cfg)
    with pytest.raises(WeightsError) as e:
        _build(d)
    msg = _one_line(e)
    assert "size mismatch" not in msg and key in msg and "mis-shaped" in msg and str(d) in msg


def test_config_architecture_must_match_the_detector_id(tmp_path):
    from dfbench.errors import WeightsError

    d = _copy(LAANET_DEMO, tmp_path)
    cfg = _config(d)
    cfg["variant"] = "efnb4"
    _write_config(d, cfg)
    with pytest.raises(WeightsError, match=r"variant 'efnb4', not 'test'; use --detector laanet_efnb4"):
        _build(d)
    cfg["variant"] = "nonexistent"
    _write_config(d, cfg)
    with pytest.raises(WeightsError, match="variant 'nonexistent' of laanet, which this installation does not know"):
        _build(d)


def test_weights_of_another_family_name_the_family_first(tmp_path):
    from dfbench.errors import WeightsError

    d = _copy(RECCE_DEMO, tmp_path)
    with pytest.raises(WeightsError) as e:
        _build(d, "laanet_test")
    msg = _one_line(e)
    assert "'recce' family" in msg and "--detector recce_lite" in msg
    assert "laanet_lite" not in msg  # the old message advised this nonexistent variant
    cfg = _config(d)
    cfg["detector"] = "nobody"
    _write_config(d, cfg)
    with pytest.raises(WeightsError, match="no installed plugin provides 'nobody_lite'"):
        _build(d, "laanet_test")


class _Evil:
    def __init__(self):
        self.x = 1


def test_pickled_checkpoint_refusal_does_not_relay_torchs_advice(tmp_path):
    import torch

    from dfbench.errors import WeightsError
    from dfbench.weights import load_torch_checkpoint

    path = tmp_path / "evil.pth"
    torch.save({"model": _Evil(), "w": torch.zeros(2)}, path)
    with pytest.raises(WeightsError) as e:
        load_torch_checkpoint(path)
    msg = str(e.value)
    assert "weights_only=False" not in msg and "`weights_only` set to `False`" not in msg
    assert "refusing to load" in msg and str(path) in msg and "_Evil" in msg and "state_dict" in msg
    broken = tmp_path / "cut.pth"
    torch.save({"w": torch.zeros(100)}, broken)
    broken.write_bytes(broken.read_bytes()[:50])
    with pytest.raises(WeightsError, match="not a readable torch checkpoint .*truncated") as e:
        load_torch_checkpoint(broken)
    assert "weights_only=False" not in str(e.value)
