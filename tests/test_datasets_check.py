"""``dfbench datasets check`` (issue 17 item 4): counts, missing/unreadable files, duplicates and
label-file problems on one screen, exit 1 when anything is wrong, 0 on a complete download."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dfbench import registry as registry_module
from dfbench.datasets import plugin
from dfbench.plugins import get_plugin_manager
from dfbench.registry import Registry
from dfbench.testing import miniature


@pytest.fixture()
def check_cli(monkeypatch):
    reg = Registry(get_plugin_manager(load_entrypoints=False, extra_plugins=[plugin]))
    monkeypatch.setattr(registry_module, "_default", reg)
    from dfbench.cli import cli

    def run(*args: str):
        return CliRunner().invoke(cli, ["datasets", "check", *args])

    return run


def test_check_reports_every_kind_of_problem_on_one_screen(check_cli, tmp_path):
    mini = miniature.make_celebdf(tmp_path)
    lst = mini.root / "List_of_testing_videos.txt"
    lst.write_text(lst.read_text() + "\n1 YouTube-real/00170.mp4\n")
    result = check_cli("cdf", "--data-root", str(tmp_path), "--split", "test")
    out = result.stdout
    assert result.exit_code == 1
    assert len(out.splitlines()) <= 40  # one screen
    assert "expected 178 real videos, found 177" in out
    assert "missing on disk (1)" in out and "YouTube-real/00175.mp4" in out
    assert "empty file (0 bytes)" in out  # the zero-byte Celeb-synthesis video
    assert "no decodable frame" in out  # the truncated Celeb-real video
    assert "label-file warnings (1)" in out and "1 duplicate line" in out
    assert out.rstrip().splitlines()[-1].startswith("NOT OK")


def test_check_json_lists_every_file(check_cli, tmp_path):
    mini = miniature.make_celebdf(tmp_path)
    result = check_cli("cdf", "--data-root", str(mini.root), "--split", "test", "--json")
    report = json.loads(result.stdout)
    (test,) = report["splits"]
    assert report["ok"] is False and test["listed"] == 518
    assert len(test["missing"]) == len(mini.missing) and len(test["unreadable"]) == len(mini.broken)


def test_check_passes_a_complete_download(check_cli, tmp_path):
    mini = miniature.make_uadfv(tmp_path)
    (broken,) = mini.broken
    name = broken.rsplit("/", 1)[1] + ".mp4"
    miniature.write_tiny_video(mini.root / "fake" / name)
    result = check_cli("uadfv", "--data-root", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "OK: every listed video is present and readable" in result.stdout
    assert "49      49" in result.stdout


def test_check_names_a_broken_label_file_and_still_checks_other_splits(check_cli, tmp_path):
    mini = miniature.make_dfdc(tmp_path)
    (mini.root / "test" / "labels.csv").write_bytes(b"PK\x03\x04\x00\x00binary")
    result = check_cli("dfdc", "--data-root", str(mini.root), "--no-decode")
    out = result.stdout
    assert result.exit_code == 1
    assert "test: index errors" in out and "labels.csv' is not a text file" in out
    assert "val " in out and "validation/4002.mp4" in out  # val still checked: its missing video


def test_check_unknown_split_is_a_usage_error(check_cli, tmp_path):
    result = check_cli("uadfv", "--data-root", str(tmp_path), "--split", "train")
    assert result.exit_code == 2 and "test" in result.output
