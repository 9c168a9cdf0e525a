"""Packaged weights are declared one way for every family (dfbench.packaged)."""

from __future__ import annotations

import json

import pytest

from dfbench import packaged


def _weights_dir(root, name, cfg):
    d = root / "weights" / name
    d.mkdir(parents=True)
    (d / "model.safetensors").write_bytes(b"x")
    (d / "config.json").write_text(json.dumps(cfg) if isinstance(cfg, dict) else cfg)


def test_folders_become_weights_specs(tmp_path, monkeypatch):
    _weights_dir(tmp_path, "lite_demo", {"variant": "lite", "tag": "demo", "sha256": "ab" * 32,
                                         "card": {"trained_on": "demo/train", "selection": "best AUC",
                                                  "license": "Apache-2.0", "description": "d"}})
    _weights_dir(tmp_path, "v1", {"variant": "base", "sha256": "cd" * 32,
                                  "selection": {"rule": "max val_auc on x", "epoch": 3}})
    _weights_dir(tmp_path, "broken", "{not json")
    (tmp_path / "weights" / "empty").mkdir()
    monkeypatch.setattr(packaged.resources, "files", lambda pkg: tmp_path)
    ws = {w.tag: w for w in packaged.packaged_weights("dfbench_x")}
    assert sorted(ws) == ["demo", "v1"]
    assert ws["demo"].variant == "lite" and ws["demo"].source == "package://dfbench_x/weights/lite_demo"
    assert ws["demo"].trained_on == "demo/train" and ws["demo"].license == "Apache-2.0"
    assert ws["v1"].selection == "max val_auc on x (epoch 3)" and ws["v1"].sha256 == "cd" * 32


@pytest.mark.parametrize("family", ["laanet", "lipforensics", "recce"])
def test_every_family_lists_its_shipped_demo_weights_the_same_way(family):
    pytest.importorskip(f"dfbench_{family}")
    from dfbench.registry import get_registry

    spec = get_registry().detectors[family]
    demo = [w for w in spec.weights if w.tag == "demo"]
    assert demo and all(w.source.startswith(f"package://dfbench_{family}/weights/") for w in demo)
    assert all(len(w.sha256) == 64 and w.selection for w in demo)
