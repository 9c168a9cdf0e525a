"""Hub weights: push then pull through the real ``huggingface_hub`` client, pinned and verified.

The client talks to ``tests/hub_server.py`` (an in-memory Hub on 127.0.0.1). ``huggingface_hub``
reads ``HF_ENDPOINT``/``HF_HUB_OFFLINE`` when it is imported, and other tests may have imported
it already, so the ``hub_env`` fixture sets the environment *and* the client's constants; one
subprocess test exercises the plain environment-variable path through the CLI.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dfbench.errors import WeightsError

sys.path.insert(0, str(Path(__file__).parent))
from hub_server import LocalHub  # noqa: E402

TESTING = "dfbench.testing:TESTING_PLUGIN"


@pytest.fixture(scope="module")
def hub_server():
    with LocalHub() as hub:
        yield hub


def _point_client(monkeypatch, url: str, cache: Path, offline: bool) -> None:
    import huggingface_hub.constants as C

    for k, v in {"HF_ENDPOINT": url, "HF_HUB_DISABLE_XET": "1", "HF_HUB_OFFLINE": "1" if offline else "0",
                 "HF_HUB_CACHE": str(cache), "HF_TOKEN": "hf_dfbench_test", "HF_HUB_DISABLE_TELEMETRY": "1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(C, "ENDPOINT", url)
    monkeypatch.setattr(C, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(C, "HF_HUB_OFFLINE", offline)
    monkeypatch.setattr(C, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(C, "HF_HUB_CACHE", str(cache))


@pytest.fixture
def hub_env(hub_server, tmp_path, monkeypatch):
    """Point the real client at the local Hub with a fresh cache; returns a switch for offline mode."""
    from dfbench.registry import get_registry

    monkeypatch.setenv("DFBENCH_EXTRA_PLUGINS", TESTING)
    get_registry(refresh=True)
    cache = tmp_path / "hf-cache"

    def set_offline(offline: bool) -> None:
        _point_client(monkeypatch, hub_server.url, cache, offline)

    set_offline(False)
    yield hub_server, set_offline, cache
    monkeypatch.undo()
    get_registry(refresh=True)


def _oracle_weights(tmp_path: Path, scale: float = 13.25) -> tuple[Path, object]:
    """Weights that differ from the factory default, so a load that silently failed would show."""
    from dfbench.build import build_detector
    from dfbench.weights import save_weights

    det = build_detector("oracle")
    with torch.no_grad():
        det.net.scale.fill_(scale)
    out = save_weights(det, tmp_path / "weights", extra_config={"trained_on": "synthetic (test)",
                                                               "selection": "none (closed form)"})
    return out, det


def _crops(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (6, 3, 64, 64), generator=g, dtype=torch.uint8)


def _results_json(tmp_path: Path, sha: str) -> Path:
    res = {"schema_version": 1, "detector": {"id": "oracle", "weights_sha256": sha, "trained": True},
           "dataset": {"id": "synthetic", "split": "test"}, "corruption": None, "protocol_hash": "ab" * 32,
           "metrics": {"video": {"auc": 1.0, "auc_ci95": [1.0, 1.0], "ap": 1.0, "eer": 0.0, "acc": 1.0},
                       "frame": {"auc": 0.98, "ap": 0.97}},
           "counts": {"videos_scored_real": 3, "videos_scored_fake": 3}}
    p = tmp_path / "results.json"
    p.write_text(json.dumps(res))
    return p


def test_push_pull_roundtrip_bit_for_bit_and_scores_identically(hub_env, tmp_path):
    from dfbench.build import build_detector
    from dfbench.hub import card_metadata, download_weights, push_weights
    from dfbench.weights import sha256_file

    hub, _, cache = hub_env
    wdir, original = _oracle_weights(tmp_path)
    res = push_weights("oracle", wdir, "dfbench-test/oracle-rt", _results_json(tmp_path, sha256_file(wdir / "model.safetensors")))
    assert len(res.commit) == 40 and res.source == f"hf://dfbench-test/oracle-rt@{res.commit}"
    assert any(p.endswith(".git/info/lfs/objects/batch") for _, p in hub.state.log), "weights must go through LFS"

    local = download_weights(res.source)
    assert str(local).startswith(str(cache)) and res.commit in str(local)
    assert (local / "model.safetensors").read_bytes() == (wdir / "model.safetensors").read_bytes()

    cfg = json.loads((local / "config.json").read_text())
    assert cfg["sha256"] == res.sha256 and cfg["variant"] == "default"
    pre = cfg["preprocessing"]
    assert (pre["input_size"], pre["cropper"], pre["frames_per_video"], pre["aggregation"], pre["flip_test"]) == (
        64, "dlib_align", 4, "mean_logit", False)
    assert pre["normalisation"]["mean"] == [0.5, 0.5, 0.5]
    meta = card_metadata((local / "README.md").read_text())
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    assert {"type": "roc_auc", "name": "video AUC", "value": 1.0, "verified": False} in metrics
    assert meta["dfbench"]["sha256"] == res.sha256
    card = (local / "README.md").read_text()
    for section in ("Training data and protocol", "Checkpoint selection", "Licences", "Intended use and limits"):
        assert section in card

    pulled = build_detector("oracle", weights=res.source)
    assert pulled.trained and pulled.weights_info["sha256"] == res.sha256
    with torch.no_grad():
        assert torch.equal(pulled(_crops()), original(_crops()))
    fresh = build_detector("oracle")
    with torch.no_grad():
        assert not torch.equal(fresh(_crops()), original(_crops())), "the test weights must change the scores"


def test_offline_mode_uses_cache_and_explains_a_miss(hub_env, tmp_path):
    from dfbench.hub import download_weights, push_weights

    _, set_offline, _ = hub_env
    wdir, _ = _oracle_weights(tmp_path, 3.5)
    res = push_weights("oracle", wdir, "dfbench-test/oracle-offline", tag="v1")
    online = download_weights("hf://dfbench-test/oracle-offline@v1")
    set_offline(True)
    assert download_weights(res.source) == online  # the pinned commit resolves from the cache alone
    with pytest.raises(WeightsError, match="HF_HUB_OFFLINE"):
        download_weights("hf://dfbench-test/never-fetched@" + "0" * 40)


def test_tampered_files_are_refused(hub_env, tmp_path):
    from dfbench.build import build_detector
    from dfbench.hub import download_weights, push_weights

    hub, set_offline, _ = hub_env
    wdir, _ = _oracle_weights(tmp_path, 7.0)
    res = push_weights("oracle", wdir, "dfbench-test/oracle-tamper")
    good = download_weights(res.source)

    # 1. The cached copy is modified on disk (offline: nothing can be re-fetched).
    blob = (good / "model.safetensors").resolve()
    pristine = blob.read_bytes()
    blob.write_bytes(pristine[:-4] + b"\0\0\0\0")
    set_offline(True)
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        download_weights(res.source)
    blob.write_bytes(pristine)
    set_offline(False)

    # 2. The repository itself serves other bytes under the same commit (a compromised mirror).
    hub.state.tamper("dfbench-test/oracle-tamper", res.commit, "model.safetensors", pristine[:-4] + b"\1\1\1\1")
    import shutil

    shutil.rmtree(Path(hub_env[2]))  # force a re-download
    with pytest.raises(WeightsError, match="config.json pins"):
        download_weights(res.source)
    # 3. The detector spec's pin is checked too, before config.json.
    with pytest.raises(WeightsError, match="detector spec pins"):
        download_weights(res.source, expected_sha256=res.sha256)
    # ... and the user-facing path (``--weights hf://…``) refuses it the same way.
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        build_detector("oracle", weights=res.source)


def test_unpinned_or_malformed_references_are_refused():
    from dfbench.hub import parse_hf_source

    with pytest.raises(WeightsError, match="no revision"):
        parse_hf_source("hf://org/name")
    with pytest.raises(WeightsError, match="expected hf://"):
        parse_hf_source("hf://just-a-name@main")
    ref = parse_hf_source("hf://org/name@" + "a" * 40)
    assert ref.is_commit and ref.repo_id == "org/name"


def test_push_refuses_results_of_other_weights(hub_env, tmp_path):
    from dfbench.hub import push_weights

    wdir, _ = _oracle_weights(tmp_path)
    with pytest.raises(WeightsError, match="misreport"):
        push_weights("oracle", wdir, "dfbench-test/x", _results_json(tmp_path, "f" * 64))


class _RunsCode:
    """A pickle payload that would create a marker file when unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    from dfbench.weights import load_torch_checkpoint

    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "payload": _RunsCode(marker)}, ckpt)
    assert not marker.exists()
    # Sanity: the payload is live — plain unpickling would run it.
    with open(ckpt, "rb") as f:
        assert b"touch" in f.read()
    with pytest.raises(WeightsError, match="weights_only=True") as e:
        load_torch_checkpoint(ckpt)
    assert "refusing to load" in str(e.value) and "arbitrary code" in str(e.value)
    assert not marker.exists(), "the pickle's code ran"
    # A bare pickle (not a torch zip) is refused the same way.
    raw = tmp_path / "evil.pkl"
    raw.write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(WeightsError):
        load_torch_checkpoint(raw)
    assert not marker.exists()


def test_cli_push_and_pull_through_environment_variables(hub_env, tmp_path):
    """The documented path: HF_ENDPOINT set before huggingface_hub is imported, real CLI."""
    hub_server = hub_env[0]
    wdir, _ = _oracle_weights(tmp_path)
    env = {**os.environ, "HF_ENDPOINT": hub_server.url, "HF_HUB_DISABLE_XET": "1", "HF_HUB_OFFLINE": "0",
           "HF_HUB_CACHE": str(tmp_path / "cache"), "HF_TOKEN": "hf_dfbench_test", "DFBENCH_EXTRA_PLUGINS": TESTING}
    script = (
        "import sys\nfrom click.testing import CliRunner\nfrom dfbench.cli import cli\n"
        "r = CliRunner().invoke(cli, ['hub', 'push', '-d', 'oracle', '-w', sys.argv[1], '--repo-id', 'dfbench-test/cli'])\n"
        "print(r.output); assert r.exit_code == 0, r.output\n"
        "src = r.output.split('--weights ')[1].split()[0]\n"
        "r = CliRunner().invoke(cli, ['hub', 'pull', src])\n"
        "print(r.output); assert r.exit_code == 0, r.output\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(wdir)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    pulled = Path(out.stdout.strip().splitlines()[-1])
    assert (pulled / "model.safetensors").read_bytes() == (wdir / "model.safetensors").read_bytes()
