"""Face-model weights from hf://ORG/NAME@REV through the project's Hub code (local test Hub)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from hub_server import LocalHub  # noqa: E402


@pytest.fixture
def hub(tmp_path, monkeypatch):
    import huggingface_hub.constants as C

    with LocalHub() as server:
        url, cache = server.url, tmp_path / "hf-cache"
        for k, v in {"HF_ENDPOINT": url, "HF_HUB_DISABLE_XET": "1", "HF_HUB_OFFLINE": "0", "HF_HUB_CACHE": str(cache),
                     "HF_TOKEN": "hf_dfbench_test", "HF_HUB_DISABLE_TELEMETRY": "1"}.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setattr(C, "ENDPOINT", url)
        monkeypatch.setattr(C, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(C, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(C, "HF_HUB_DISABLE_XET", True)
        monkeypatch.setattr(C, "HF_HUB_CACHE", str(cache))
        yield url
        monkeypatch.undo()


def test_retinaface_and_fan_weights_resolve_from_hf_references(hub, tmp_path):
    from huggingface_hub import HfApi

    from dfbench.errors import WeightsError
    from dfbench.faces import fan, retinaface
    from dfbench.weights import sha256_file

    net = retinaface.RetinaFace("mobilenet0.25")
    path = tmp_path / "mobilenet0.25_Final.pth"
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, path)
    api = HfApi(endpoint=hub, token="hf_dfbench_test")
    api.create_repo("faces/retinaface", exist_ok=True)
    api.upload_file(path_or_fileobj=str(path), path_in_repo=path.name, repo_id="faces/retinaface")
    loaded, mf = retinaface.load_retinaface("hf://faces/retinaface@main", "mobilenet0.25")
    assert mf.sha256 == sha256_file(path) and mf.source == "hf://faces/retinaface@main/mobilenet0.25_Final.pth"
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), net.state_dict().values(), strict=True))
    with pytest.raises(WeightsError, match="2DFAN4"):
        fan.load_fan("hf://faces/retinaface@main")  # the repository has no FAN file: the error names it
