"""A run with an official-recipe cropper records the recipe, face models, sha256 and fallback."""

from __future__ import annotations

import json

from dfbench.hookspecs import hookimpl
from dfbench.specs import DetectorSpec, InputSpec, VariantSpec


class _SBICropPlugin:
    """A reference detector whose protocol uses the sbi_official recipe."""

    @hookimpl
    def register_detectors(self, register):
        from dfbench.testing import build_reference_detector

        inp = InputSpec(unit="frame", size=64, colour="rgb", cropper="sbi_official", frames_per_video=2,
                        mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
        register(DetectorSpec(name="oracle_sbi", factory=build_reference_detector,
                              variants=tuple(VariantSpec(n, inp, {"kind": "oracle"}) for n in ("default", "test")),
                              default_variant="default"))


def test_results_json_records_the_crop_recipe_and_fallback(tmp_path, monkeypatch):
    from dfbench.plugins import get_plugin_manager
    from dfbench.registry import Registry
    from dfbench.results import summary_lines
    from dfbench.runner import evaluate
    from dfbench.testing import TESTING_PLUGIN, build_synthetic_dataset

    monkeypatch.delenv("DFBENCH_RETINAFACE_R50", raising=False)
    data = build_synthetic_dataset(tmp_path / "data", n_real=1, n_fake=1, n_frames=6)
    reg = Registry(get_plugin_manager(extra_plugins=[TESTING_PLUGIN, _SBICropPlugin()]))
    res = evaluate("oracle_sbi", "synthetic", data_root=data, output=tmp_path / "run", registry=reg, progress=False,
                   cache_dir=tmp_path / "cache")
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    recipe = saved["protocol"]["cropper"]["recipe"]
    assert recipe["cropper"] == "sbi_official" and recipe["face_detector"] == "mtcnn_facenet_pytorch"
    assert recipe["fallback"] is True and len(recipe["detector_weights_sha256"]) == 64
    assert any(line.startswith("crops     sbi_official on mtcnn") and "fallback" in line for line in summary_lines(res))
    from dfbench.leaderboard import add_result

    path = add_result({k: v for k, v in res.items() if k != "output_dir"}, tmp_path / "boards", trained_on="x")
    assert "crops-fallback" in json.loads(path.read_text())["flags"]  # the leaderboard says so too
