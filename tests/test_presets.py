"""Presets by name: an existing path first, else a preset (with or without .yaml), else an error naming the presets;
``clmlf presets`` lists each with its first comment line."""

from __future__ import annotations

import pytest

import clmlf
from clmlf.cli import main
from clmlf.presets import preset_description, preset_files, resolve_config
from conftest import REPO


def test_the_presets_are_the_package_data_and_the_checkout_folder_links_to_them():
    assert (REPO / "configs").resolve() == (REPO / "clmlf" / "configs").resolve()
    assert sorted(preset_files()) == sorted(path.stem for path in (REPO / "configs").glob("*.yaml"))


@pytest.mark.parametrize("name", list(preset_files()))
def test_every_preset_has_a_one_line_description(name):
    description = preset_description(preset_files()[name])
    assert description and description[-1] in ".)", f"{name}.yaml: its first line, a comment, should be one sentence"


def test_a_name_resolves_with_or_without_yaml_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_config("tiny").read_text() == resolve_config("tiny.yaml").read_text() == (REPO / "configs" / "tiny.yaml").read_text()
    assert clmlf.load_spec("tiny").name == "tiny" and clmlf.build_model("tiny").spec.d_model == 32


def test_an_existing_path_comes_before_a_preset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text((REPO / "configs" / "tiny.yaml").read_text().replace("name: tiny", "name: mine"))
    assert clmlf.load_spec("tiny.yaml").name == "mine" and clmlf.load_spec("tiny").name == "tiny"


def test_a_missing_config_names_the_presets_and_the_closest_one(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "configs/tiny.yaml"]) == 2
    error = capsys.readouterr().err
    assert "configs/tiny.yaml: 1 problem" in error and "Did you mean 'tiny'?" in error and "`clmlf presets`" in error
    assert "mvsa_single_demo, mvsa_single_faithful" in error and "e.g. configs/tiny.yaml" not in error


def test_clmlf_presets_lists_one_line_each(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(preset_files())
    assert any(line.startswith("tiny ") and "Tiny random-initialised CLMLF" in line for line in lines)
