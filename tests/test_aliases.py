"""One id parser, first-class aliases for every kind, and plugin collisions named (issue 13 item 3,
issue 12 item 10)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dfbench import hookimpl
from dfbench.cli.guard import register_plugin_commands
from dfbench.errors import DfbenchError, DuplicateNameError, UnknownCorruptionError
from dfbench.ids import DetectorId, covers, format_id, parse_id, split_tag
from dfbench.plugins import get_plugin_manager
from dfbench.registry import Registry
from dfbench.specs import CorruptionSpec, CropperSpec, DatasetSpec
from dfbench.testing import build_synthetic_dataset

ROOT = Path(__file__).resolve().parents[1]


def test_one_parser_for_detector_ids():
    fams = ["laanet", "my_family", "my"]
    assert parse_id("laanet", fams) == DetectorId("laanet", "default", None)
    assert parse_id("laanet_efnb4.demo", fams) == DetectorId("laanet", "efnb4", "demo")
    assert parse_id("my_family_big", fams) == DetectorId("my_family", "big")  # longest family wins
    assert parse_id("my_family_big", fams, lambda f: {"small"}) is None
    assert parse_id("other", fams) is None
    assert str(DetectorId("laanet", "efnb4", "demo")) == format_id("laanet", "efnb4", "demo") == "laanet_efnb4.demo"
    assert format_id("recce", "default", "x") == "recce.x" and split_tag("recce") == ("recce", None)
    assert covers("laanet_efnb4", "laanet_efnb4.demo") and not covers("laanet_efnb4.demo", "laanet_efnb4.other")


def test_no_module_formats_or_parses_ids_by_hand():
    """`family_variant.tag` is built and split only in dfbench/ids.py."""
    offenders = []
    for path in sorted((ROOT / "dfbench").rglob("*.py")):
        if path.name == "ids.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.IfExp) and isinstance(node.test, ast.Compare):
                consts = [c.value for c in ast.walk(node.test) if isinstance(c, ast.Constant)]
                if "default" in consts and isinstance(node.orelse, ast.JoinedStr):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_corruption_short_names_and_case():
    reg = Registry(get_plugin_manager())
    assert reg.corruption("GB").name == reg.corruption("gb").name == reg.corruption("Blur").name == "blur"
    assert {reg.corruption(k).name for k in ("CS", "CC", "BW", "GNC", "VC")} == {
        "saturation", "contrast", "block", "noise", "compression"}
    assert reg.corruption("jpeg").name == "jpeg"
    for ambiguous in ("JPEG", "Jpeg"):
        with pytest.raises(DfbenchError, match="ambiguous.*'pixelation' or 'jpeg'"):
            reg.corruption(ambiguous)
    with pytest.raises(UnknownCorruptionError, match="Did you mean"):
        reg.corruption("blurr")
    assert reg.dataset("cdf").name == "celebdf_v2"


class _Kinds:
    """A plugin registering one spec of each aliased kind."""

    def __init__(self, dataset=None, corruption=None, cropper=None):
        self.d, self.c, self.k = dataset, corruption, cropper

    @hookimpl
    def register_datasets(self, register):
        if self.d:
            register(DatasetSpec(name=self.d[0], index="dfbench.testing:index_synthetic", aliases=self.d[1]))

    @hookimpl
    def register_corruptions(self, register):
        if self.c:
            register(CorruptionSpec(name=self.c[0], apply="dfbench.corruptions:apply", aliases=self.c[1]))

    @hookimpl
    def register_croppers(self, register):
        if self.k:
            register(CropperSpec(name=self.k[0], factory="dfbench.testing:build_reference_detector",
                                 aliases=self.k[1]))


def _registry(*plugins):
    pm = get_plugin_manager(load_entrypoints=False)
    for name, p in plugins:
        pm.register(p, name=name)
    return Registry(pm)


@pytest.mark.parametrize("kind", ["dataset", "corruption", "cropper"])
def test_alias_shadowing_a_name_names_both_plugins(kind):
    a = _Kinds(**{kind: ("alpha", ("beta",))})
    b = _Kinds(**{kind: ("beta", ())})
    with pytest.raises(DuplicateNameError) as e:
        _registry(("plugin-a", a), ("plugin-b", b))
    assert "plugin-a" in str(e.value) and "plugin-b" in str(e.value) and "'beta'" in str(e.value)


@pytest.mark.parametrize("kind", ["dataset", "corruption", "cropper"])
def test_one_alias_claimed_twice_names_both_plugins(kind):
    a = _Kinds(**{kind: ("alpha", ("short",))})
    b = _Kinds(**{kind: ("gamma", ("short",))})
    with pytest.raises(DuplicateNameError) as e:
        _registry(("plugin-a", a), ("plugin-b", b))
    assert "plugin-a" in str(e.value) and "plugin-b" in str(e.value) and "'short'" in str(e.value)
    ok = _registry(("plugin-a", _Kinds(**{kind: ("alpha", ("al",))})))
    assert getattr(ok, kind)("al").name == "alpha"


def _cmd(name):
    return click.Command(name, callback=lambda: None)


class _CmdPlugin:
    def __init__(self, name, decorator=False):
        self.name, self.decorator = name, decorator

    @hookimpl
    def register_commands(self, cli):
        if self.decorator:
            @cli.command(self.name)
            def _f():
                pass
        else:
            cli.add_command(_cmd(self.name))


def test_two_plugins_adding_one_command_name_both():
    group = click.Group("root", commands=[_cmd("run")])
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(_CmdPlugin("train"), name="plugin-a")
    pm.register(_CmdPlugin("train", decorator=True), name="plugin-b")
    with pytest.raises(DuplicateNameError) as e:
        register_plugin_commands(pm, group)
    assert "'train'" in str(e.value) and "plugin-a" in str(e.value) and "plugin-b" in str(e.value)
    pm2 = get_plugin_manager(load_entrypoints=False)
    pm2.register(_CmdPlugin("run"), name="plugin-c")
    with pytest.raises(DuplicateNameError, match="plugin 'plugin-c' adds command 'run', which is a core"):
        register_plugin_commands(pm2, click.Group("root", commands=[_cmd("run")]))
    pm3 = get_plugin_manager(load_entrypoints=False)
    pm3.register(_CmdPlugin("fresh", decorator=True), name="plugin-d")
    group = click.Group("root")
    assert register_plugin_commands(pm3, group) == {"fresh": "plugin-d"} and "fresh" in group.commands


class _FakeDist:
    def __init__(self, name, eps):
        from importlib.metadata import EntryPoint

        self.metadata = {"Name": name}
        self.version = "1.0"
        self.entry_points = [EntryPoint(n, v, "dfbench") for n, v in eps]


def test_an_entry_point_registered_twice_is_reported(monkeypatch):
    import importlib.metadata

    from dfbench import plugins

    dists = [_FakeDist("dist-one", [("kit", "dfbench.testing:TESTING_PLUGIN")]),
             _FakeDist("dist-two", [("kit", "dfbench.testing:TESTING_PLUGIN")])]
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: dists)
    pm = get_plugin_manager()
    assert pm.get_plugin("kit") is not None
    msg = plugins.DUPLICATE_ENTRY_POINTS["kit"]
    assert "registered twice" in msg and "dist-one" in msg and "dist-two" in msg
    rows = {r["name"]: r for r in plugins.plugin_info(pm) if r["error"]}
    assert "registered twice" in rows["kit"]["error"]
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: dists[:1])
    get_plugin_manager()
    assert "kit" not in plugins.DUPLICATE_ENTRY_POINTS


def test_run_accepts_a_deeperforensics_short_name(tmp_path, monkeypatch):
    from dfbench import registry as reg_mod
    from dfbench.cli import cli

    monkeypatch.setenv("DFBENCH_EXTRA_PLUGINS", "dfbench.testing:TESTING_PLUGIN")
    monkeypatch.setenv("DFBENCH_CACHE", str(tmp_path / "cache"))
    reg_mod.get_registry(refresh=True)
    try:
        data = build_synthetic_dataset(tmp_path / "data", n_real=2, n_fake=2, n_frames=4)
        res = CliRunner().invoke(cli, ["run", "-d", "oracle", "-s", "synthetic", "--data-root", str(data),
                                       "--corruption", "GB:3", "-o", str(tmp_path / "out"), "--json"])
        assert res.exit_code == 0, res.output
        doc = json.loads((tmp_path / "out" / "results.json").read_text())
        assert doc["corruption"]["name"] == "blur" and doc["corruption"]["level"] == 3
    finally:
        monkeypatch.undo()
        reg_mod.get_registry(refresh=True)


def test_the_cli_refuses_to_run_when_two_plugins_claim_one_command(tmp_path):
    """Issue 12 item 10 at the command line: not a warning and a coin toss, an error naming both."""
    import os
    import subprocess
    import sys

    (tmp_path / "twocmds.py").write_text(
        "import click\nfrom dfbench.hookspecs import hookimpl\n\n"
        "class P:\n    def __init__(self, tag):\n        self.tag = tag\n\n"
        "    @hookimpl\n    def register_commands(self, cli):\n"
        "        cli.add_command(click.Command('frobnicate', callback=lambda: None))\n\n"
        "A = P('a')\nB = P('b')\n")
    env = {**os.environ, "DFBENCH_EXTRA_PLUGINS": "twocmds:A,twocmds:B",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-m", "dfbench.cli", "frobnicate"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "'frobnicate'" in res.stderr and "twocmds:A" in res.stderr and "twocmds:B" in res.stderr
