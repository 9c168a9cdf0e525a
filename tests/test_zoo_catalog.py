"""`dfbench list detectors`: paper, licence of the official weights and input contract per family."""

from __future__ import annotations

from click.testing import CliRunner

from dfbench.catalog import catalog_rows
from dfbench.cli import cli
from dfbench.specs import DetectorSpec, InputSpec, VariantSpec


def test_every_family_shows_paper_weights_licence_and_input_contract():
    rows = [r for r in catalog_rows("detectors") if r["default"]]
    assert {"sbi", "xception", "efficientnet_b4", "laanet", "recce"} <= {r["family"] for r in rows}
    for r in rows:
        details = "\n".join(r["details"])
        assert "paper: " in details and "official weights licence: " in details and "input: " in details, r["name"]
    sbi = next(r for r in rows if r["family"] == "sbi")
    assert "noncommercial research" in sbi["weights_license"]
    assert "380px rgb frames via sbi_official" in sbi["contract"]
    assert "video score mean_prob" in sbi["contract"]


def test_cli_prints_the_details_under_each_detector():
    res = CliRunner().invoke(cli, ["list", "detectors", "xception"])
    assert res.exit_code == 0
    assert "official weights licence: CC BY-NC 4.0" in res.output
    assert "resized to 299" in res.output


def test_weights_licence_is_optional_for_third_party_specs():
    v = (VariantSpec("default", InputSpec(size=8)), VariantSpec("test", InputSpec(size=8)))
    spec = DetectorSpec(name="old_style", factory="x:y", variants=v, default_variant="default")
    assert spec.weights_license == ""
    assert InputSpec(unit="clip", clip_length=5, colour="gray", mean=(0.4,), std=(0.2,),
                     frames_per_video=0, flip_test=True).describe() == \
        "256px gray clips of 5 via dlib_align; (x/255 - 0.4) / 0.2; all frames/video; video score mean_logit; flip test"


def test_reported_numbers_are_linked_to_installed_detector_ids():
    """Leaderboard entries marked in_dfbench name a family/variant that resolves here, so the
    reported number can be re-measured with the same id (weights converted by the user)."""
    import json
    from pathlib import Path

    from dfbench.registry import get_registry

    reg = get_registry()
    root = Path(__file__).resolve().parents[1] / "leaderboards"
    linked = {}
    for p in root.rglob("*.json"):
        e = json.loads(p.read_text())
        if not e.get("detector", {}).get("in_dfbench"):
            continue
        base = e["detector_id"].split(".")[0]
        resolved = reg.resolve_detector(base)
        assert resolved.spec.name == e["detector"]["family"], p
        linked.setdefault(e["detector_id"], resolved)
    for det_id, variant in (("sbi_efnb4.official", "efnb4"), ("xception.dfb", "default"),
                            ("efficientnet_b4.dfb", "default"), ("spsl.dfb", "default")):
        assert linked[det_id].variant.name == variant
    assert linked["xception.dfb"].variant.input.size == 256  # DeepfakeBench's resolution
