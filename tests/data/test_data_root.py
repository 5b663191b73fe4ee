"""Data-root resolution: explicit > CLMLF_DATA_DIR > shared/data found by walking up; one clear error otherwise."""

from __future__ import annotations

import pytest

from clmlf.data import root as root_module
from clmlf.data.errors import DataError
from clmlf.data.root import find_dataset_dir, locate_data_root, resolve_data_root


def test_explicit_beats_env_beats_search(tmp_path, monkeypatch):
    explicit, env, found = tmp_path / "explicit", tmp_path / "env", tmp_path / "repo" / "shared" / "data"
    for folder in (explicit, env, found):
        folder.mkdir(parents=True)
    deep = tmp_path / "repo" / "main" / "clmlf" / "data"
    deep.mkdir(parents=True)
    monkeypatch.setattr(root_module, "_search_starts", lambda: [deep])
    monkeypatch.setenv("CLMLF_DATA_DIR", str(env))
    assert resolve_data_root(explicit) == explicit
    assert locate_data_root() == (env, "CLMLF_DATA_DIR")
    monkeypatch.delenv("CLMLF_DATA_DIR")
    assert resolve_data_root() == found  # <repo>/../shared/data


def test_bad_explicit_or_env_root_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    with pytest.raises(DataError, match=r"given by data.root \(or --root\) is not a directory.*CLMLF_DATA_DIR"):
        resolve_data_root(tmp_path / "nope")
    monkeypatch.setenv("CLMLF_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(DataError, match="given by CLMLF_DATA_DIR is not a directory"):
        resolve_data_root()


def test_nothing_found_says_where_it_looked_and_how_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("CLMLF_DATA_DIR", raising=False)
    monkeypatch.setattr(root_module, "_candidates", lambda: [tmp_path / "shared" / "data"])
    monkeypatch.setattr(root_module, "_search_starts", lambda: [tmp_path])
    with pytest.raises(DataError) as caught:
        resolve_data_root()
    message = str(caught.value)
    for expected in (str(tmp_path), "data.root: DIR", "--set data.root=DIR", "CLMLF_DATA_DIR"):
        assert expected in message


def test_missing_dataset_folder_shows_layout_and_slip(tmp_path):
    required = ["10-flod-1/train.json", "10-flod-1/dev.json"]
    with pytest.raises(DataError) as caught:
        find_dataset_dir("MVSA-single", required, tmp_path)
    message = str(caught.value)
    assert f"{tmp_path / 'MVSA-single'} does not exist" in message and "MVSA-single/10-flod-1/train.json" in message
    assert "--set data.root=DIR" in message
    (tmp_path / "10-flod-1").mkdir()
    for name in required:
        (tmp_path / name).write_text("[]")
    with pytest.raises(DataError, match=r"looks like the MVSA-single folder itself; set the data root to its parent"):
        find_dataset_dir("MVSA-single", required, tmp_path)
    dataset = tmp_path / "root" / "MVSA-single"
    (dataset / "10-flod-1").mkdir(parents=True)
    (dataset / required[0]).write_text("[]")
    with pytest.raises(DataError, match=r"lacks 10-flod-1/dev.json"):
        find_dataset_dir("MVSA-single", required, tmp_path / "root")
    (dataset / required[1]).write_text("[]")
    assert find_dataset_dir("MVSA-single", required, tmp_path / "root") == dataset
