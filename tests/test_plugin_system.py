"""Plugins: entry-point discovery, blocking, duplicates, an external package, the docs."""

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dfbench import hookimpl, hookspecs
from dfbench.errors import DuplicateNameError, UnknownDetectorError
from dfbench.plugins import get_plugin_manager
from dfbench.registry import Registry
from dfbench.scaffold import write_plugin_skeleton
from dfbench.specs import DetectorSpec, InputSpec, VariantSpec

ROOT = Path(__file__).resolve().parents[1]
DFBENCH = [sys.executable, "-m", "dfbench.cli"]


def _spec(name):
    v = (VariantSpec("default", InputSpec()), VariantSpec("test", InputSpec(size=16)))
    return DetectorSpec(name=name, factory="dfbench.testing:build_reference_detector", variants=v, default_variant="default")


class _A:
    @hookimpl
    def register_detectors(self, register):
        register(_spec("dup"))


class _B:
    @hookimpl
    def register_detectors(self, register):
        register(_spec("dup"))


def test_duplicate_detector_names_name_both_plugins():
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(_A(), name="plugin-a")
    pm.register(_B(), name="plugin-b")
    with pytest.raises(DuplicateNameError) as e:
        Registry(pm)
    assert "plugin-a" in str(e.value) and "plugin-b" in str(e.value)


def test_builtins_are_plugins_and_can_be_blocked():
    reg = Registry(get_plugin_manager())
    assert {"demo", "ffpp_c23", "celebdf_v2"} <= set(reg.datasets)
    assert {"saturation", "compression"} <= set(reg.corruptions)
    assert {"dlib_align", "mouth"} <= set(reg.croppers)
    blocked = Registry(get_plugin_manager(block=["builtin_corruptions"]))
    assert not blocked.corruptions and blocked.datasets


def test_autoload_can_be_disabled(monkeypatch):
    monkeypatch.setenv("DFBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert Registry(get_plugin_manager()).datasets == {}


def test_unknown_names_suggest_close_matches():
    reg = Registry(get_plugin_manager(extra_plugins=[_A()]))
    with pytest.raises(UnknownDetectorError, match="did you mean 'dup'|Did you mean 'dup'"):
        reg.resolve_detector("dpu")
    assert reg.resolve_detector("dup").variant.name == "default"
    assert reg.resolve_detector("dup_test").variant.name == "test"


def test_every_hookspec_is_documented_in_docs():
    text = (ROOT / "docs" / "plugins.md").read_text()
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if hasattr(fn, "dfbench_spec"):
            assert f"`{name}(" in text, f"docs/plugins.md does not document hook {name}"
            assert fn.__doc__ and len(fn.__doc__) > 40, f"hookspec {name} needs a full docstring"


def _install(pkg: Path, site: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(pkg)], check=True, capture_output=True)


def _env(*sites: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(s) for s in sites] + [env.get("PYTHONPATH", "")])
    return env


def test_external_plugin_package_adds_detector_dataset_and_corruption(tmp_path):
    from dfbench.testing import make_face_frames, write_video

    pkg = write_plugin_skeleton("extplug", tmp_path)
    site = tmp_path / "site"
    _install(pkg, site)
    env = _env(site)
    out = subprocess.run(DFBENCH + ["list", "detectors", "--json"], env=env, capture_output=True, text=True, check=True)
    names = {r["name"] for r in json.loads(out.stdout)}
    assert {"extplug_base", "extplug_test"} <= names
    out = subprocess.run(DFBENCH + ["list", "datasets", "extplug*"], env=env, capture_output=True, text=True, check=True)
    assert "extplug_folder" in out.stdout
    out = subprocess.run(DFBENCH + ["list", "corruptions", "--json"], env=env, capture_output=True, text=True, check=True)
    assert "extplug_vignette" in {r["name"] for r in json.loads(out.stdout)}
    # ...and `dfbench run` evaluates the new detector on the new dataset, with no edit to dfbench.
    data = tmp_path / "data"
    for i in range(2):
        write_video(data / "real" / f"r{i}.mp4", make_face_frames(6, seed=i))
        write_video(data / "fake" / "greencast" / f"f{i}.mp4", make_face_frames(6, fake=True, seed=10 + i))
    run = subprocess.run(DFBENCH + ["run", "-d", "extplug_test", "-s", "extplug_folder", "--data-root", str(data),
                                    "-o", str(tmp_path / "run"), "--no-cache", "--allow-untrained", "--json"],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    res = json.loads(run.stdout)
    assert res["counts"]["videos_scored"] == 4 and res["detector"]["family"] == "extplug"
    assert not res["detector"]["trained"]

    # A second package registering the same detector name: an error naming both plugins.
    pkg2 = write_plugin_skeleton("extplug2", tmp_path / "second")
    plugin_py = pkg2 / "dfbench_extplug2" / "plugin.py"
    plugin_py.write_text(plugin_py.read_text().replace('name="extplug2",', 'name="extplug",'))
    site2 = tmp_path / "site2"
    _install(pkg2, site2)
    dup = subprocess.run(DFBENCH + ["list", "detectors"], env=_env(site, site2), capture_output=True, text=True)
    assert dup.returncode != 0
    assert "two plugins: 'extplug' and 'extplug2'" in dup.stderr or "two plugins: 'extplug2' and 'extplug'" in dup.stderr


def test_a_variant_with_model_overrides_builds_that_network():
    """``model_overrides`` of every training config go through one place (VariantSpec.with_config)."""
    from dfbench.registry import get_registry

    spec = get_registry().detectors["xception"]
    v = spec.variant("test")
    assert v.with_config({}) is v and v.with_config(None) is v
    wider = v.with_config({"exit": (16, 24, 40)})
    assert wider.config["exit"] == (16, 24, 40) and wider.name == v.name and v.config.get("exit") != (16, 24, 40)
    det = spec.build("test", {"exit": (16, 24, 40)})
    assert det.variant == wider and det.net.num_features == 40
