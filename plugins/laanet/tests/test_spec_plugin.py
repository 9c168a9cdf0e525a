"""Registration: the spec is cheap, complete and discoverable through the entry point."""

from __future__ import annotations

import json
import subprocess
import sys

import click
from dfbench_laanet import plugin, spec

from dfbench import packaged
from dfbench.registry import Registry


def test_registered_through_the_entry_point():
    reg = Registry()
    s = reg.detectors["laanet"]
    assert s.default_variant == "efnb4"
    assert {v.name for v in s.variants} == {"efnb4", "test"}
    assert s.converter == "dfbench_laanet.convert:from_official"
    assert "laanet_efnb4" in reg.detector_ids() and "laanet_test" in reg.detector_ids()


def test_input_contract_is_the_official_protocol():
    inp = spec.laanet_spec().variant().input
    assert (inp.unit, inp.size, inp.colour, inp.cropper) == ("frame", 384, "rgb", "laanet_official")
    assert dict(inp.crop_settings) == {"offline_fallback": "laanet"}  # dlib crop when RetinaFace is absent
    assert inp.mean == (0.5, 0.5, 0.5) and inp.std == (0.5, 0.5, 0.5)
    assert inp.frames_per_video == 32 and inp.aggregation == "mean_logit" and inp.flip_test is True


def test_spec_and_plugin_import_without_torch():
    code = ("import sys; import dfbench_laanet.plugin, dfbench_laanet.spec as s; s.laanet_spec(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_packaged_weights_are_listed_when_present(tmp_path, monkeypatch):
    root = tmp_path / "pkg"
    (root / "weights" / "demo").mkdir(parents=True)
    (root / "weights" / "empty").mkdir()
    (root / "weights" / "demo" / "model.safetensors").write_bytes(b"x")
    (root / "weights" / "demo" / "config.json").write_text(json.dumps(
        {"variant": "test", "sha256": "ab" * 32, "trained_on": "demo"}))
    monkeypatch.setattr(packaged.resources, "files", lambda pkg: root)
    s = spec.laanet_spec()
    assert [w.tag for w in s.weights] == ["demo"]
    w = s.weights_for("demo")
    assert w.variant == "test" and w.sha256 == "ab" * 32
    assert w.source == "package://dfbench_laanet/weights/demo"


def test_no_weights_listed_while_none_are_shipped(tmp_path, monkeypatch):
    monkeypatch.setattr(packaged.resources, "files", lambda pkg: tmp_path)
    assert spec.laanet_spec().weights == ()


def test_register_commands_adds_the_laanet_group():
    cli = click.Group("dfbench")
    plugin.register_commands(cli)
    assert "laanet" in cli.commands
