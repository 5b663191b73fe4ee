"""Readers on tiny synthetic files written to tmp_path in the real layouts.

Covers merged translations, images, labels, aspects, subsets and loud malformed-row errors.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from clmlf.data.clmlf_json import read_clmlf_split, read_translations
from clmlf.data.errors import DataError
from clmlf.data.readers import HFMSpec, MVSASingleSpec, hfm, mvsa_single, twitter2015
from clmlf.data.tombert_tsv import read_tombert_tsv
from clmlf.registry import REGISTRY

LABELS = ("positive", "neutral", "negative")

TSV_HEADER = "index\t#1 Label\t#2 ImageID\t#3 String\t#3 String"


def write_json(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def write_tsv(path: Path, rows: list[str], header: str = TSV_HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def rows(prefix: str, labels: list[int]) -> list[dict]:
    return [{"id": f"{prefix}{i}", "text": f"text {prefix}{i}", "emotion_label": label} for i, label in enumerate(labels)]


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """A data root with tiny MVSA-single (with images folder), HFM and twitter2015 datasets."""
    monkeypatch.delenv("CLMLF_DATA_DIR", raising=False)
    root = tmp_path / "data"
    mvsa = root / "MVSA-single"
    write_json(mvsa / "10-flod-1" / "train.json", rows("tr", [0, 0, 0, 0, 1, 2, 2, 0]))
    write_json(mvsa / "10-flod-1" / "dev.json", rows("dv", [0, 1, 2]))
    write_json(mvsa / "10-flod-1" / "test.json", rows("te", [2, 1]))
    translations = [{"id": f"tr{i}", "text_translation": f"aug {i}"} for i in range(7)]
    translations += [{"id": "dv0", "text_translation": "  "}, {"id": "dv1", "text_translation": None}]
    write_json(mvsa / "MVSA-single_translation.json", translations)
    (mvsa / "dataset_image").mkdir()
    hfm_dir = root / "HFM"
    write_json(hfm_dir / "train.json", rows("h", [1, 0, 0]))
    write_json(hfm_dir / "valid.json", rows("v", [1]))
    write_json(hfm_dir / "test.json", rows("t", [0]))
    write_json(hfm_dir / "HFM.json", [{"id": "h0", "text_translation": "x"}])
    tweets = ["1\t2\t10.jpg\t$T$ is great\tChuck", "2\t0\t10.jpg\tChuck hates $T$ and $T$\tMondays"]
    for split in ("train", "dev"):
        write_tsv(root / "twitter2015" / f"{split}.tsv", tweets)
    write_tsv(root / "twitter2015" / "test.tsv", tweets[:1], header="index\t#1 ImageID\t#2 String\t#2 String")
    return root


def test_mvsa_single_merges_translations_and_images(data_root):
    splits = mvsa_single(root=str(data_root))
    assert splits.info() == {"train": 8, "dev": 3, "test": 2, "classes": {"positive": 5, "neutral": 1, "negative": 2}}
    assert splits.name == "mvsa_single" and splits.metric == "weighted" and splits.has_images
    first = splits.train[0]
    assert first.text == "text tr0" and first.text_aug == "aug 0"
    assert first.image_path == data_root / "MVSA-single" / "dataset_image" / "tr0.jpg"
    assert splits.missing_text_aug == {"train": 1, "dev": 3, "test": 2}  # tr7 absent, dv0 blank, dv1 null


def test_text_only_and_no_translations(data_root):
    splits = mvsa_single(root=data_root, images=False, translations=False)
    assert not splits.has_images and all(s.image_path is None and s.text_aug is None for s in splits.train)


def test_hfm_reads_valid_as_dev_and_has_no_images(data_root):
    splits = hfm(root=data_root)
    assert splits.info() == {"train": 3, "dev": 1, "test": 1, "classes": {"not_sarcastic": 2, "sarcastic": 1}}
    assert splits.metric == "macro" and splits.train[0].text_aug == "x"
    with pytest.raises(DataError, match=r"Images were requested for HFM .* set `images: false`"):
        hfm(root=data_root, images=True)


def test_max_subsets_are_stratified(data_root):
    splits = mvsa_single(root=data_root, max_train=4, max_eval=1)
    assert splits.info()["train"] == 4 and sorted({s.label for s in splits.train}) == [0, 1, 2]
    assert len(splits.dev) == len(splits.test) == 1


def test_twitter_replaces_marker_and_keeps_aspect(data_root):
    splits = twitter2015(root=data_root)
    assert splits.info() == {"train": 2, "dev": 2, "test": 1, "classes": {"negative": 1, "neutral": 0, "positive": 1}}
    second = splits.train[1]
    assert (second.id, second.label, second.aspect) == ("2", 0, "Mondays")
    assert second.text == "Chuck hates Mondays and Mondays" and second.text_aug is None
    (data_root / "twitter2015" / "dataset_image").mkdir()
    assert twitter2015(root=data_root, images=True).train[0].image_path.name == "10.jpg"


def test_missing_translation_file_is_an_error_unless_disabled(data_root):
    (data_root / "HFM" / "HFM.json").unlink()
    with pytest.raises(DataError) as caught:
        hfm(root=data_root)
    message = str(caught.value)
    assert message.startswith(f"Back-translation file HFM.json is missing: expected {data_root / 'HFM' / 'HFM.json'}")
    assert "`data.dataset.translations: false`" in message and "not found" not in message
    assert hfm(root=data_root, translations=False).train[0].text_aug is None


def test_malformed_json_rows_are_all_reported(tmp_path):
    bad = [
        *rows("r", [0, 1]),
        {"id": "r0", "text": "dup", "emotion_label": 0},
        {"id": "x", "text": 5, "emotion_label": 7},
        {"id": True, "text": "t", "emotion_label": 0},
        {"id": "y", "text": "t", "emotion_label": True},
        ["not", "an", "object"],
    ]
    path = write_json(tmp_path / "train.json", bad)
    with pytest.raises(DataError) as caught:
        read_clmlf_split(path, LABELS)
    message = str(caught.value)
    assert message.startswith(f"{path}: 6 problems")
    for expected in (
        "row 2 (id 'r0'): duplicate id (first at row 0 (id 'r0'))",
        "row 3 (id 'x'): field 'text': expected a string, got 5",
        "row 3 (id 'x'): field 'emotion_label': expected an integer 0..2 (0 positive, 1 neutral, 2 negative), got 7",
        "row 4: field 'id': expected a non-empty string, got True",
        "row 5 (id 'y'): field 'emotion_label'",
        "row 6: expected an object, got list",
    ):
        assert expected in message


def test_json_syntax_and_shape_errors(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": "1",\n "text": }]')
    with pytest.raises(DataError, match=r"broken.json: invalid JSON at line 2, column 10"):
        read_clmlf_split(broken, LABELS)
    with pytest.raises(DataError, match="expected a JSON list of objects at the top level, got dict"):
        read_clmlf_split(write_json(tmp_path / "dict.json", {"id": "1"}), LABELS)
    with pytest.raises(DataError, match=r"row 0 \(id '1'\): field 'text_translation': expected a string"):
        read_translations(write_json(tmp_path / "tr.json", [{"id": 1, "text_translation": 3}]))
    assert read_translations(write_json(tmp_path / "ok.json", [{"id": 1, "text_translation": "a"}])) == {"1": "a"}


def assert_problems(read, path, expected: list[str]) -> None:
    """``read(path)`` raises one DataError that counts and names every ``expected`` problem."""
    with pytest.raises(DataError) as caught:
        read(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {len(expected)} problems")
    for line in expected:
        assert line in message


def test_malformed_tsv_lines_are_all_reported(tmp_path):
    lines = [
        "1\t2\t1.jpg\t$T$ ok\tA",
        "2\t5\t1.jpg\t$T$ bad label\tA",
        "3\t1\t1.jpg\tno marker\tA",
        "4\t1\t1.jpg\t$T$ no aspect\t ",
        "5\t1\ttoo few",
        "1\t0\t1.jpg\t$T$ dup\tB",
    ]
    path = write_tsv(tmp_path / "train.tsv", lines)
    assert_problems(read_tombert_tsv, path, [
        "line 3 (index '2'): field 'label': expected 0..2 (0 negative, 1 neutral, 2 positive), got '5'",
        "line 4 (index '3'): field 'tweet': no $T$ marker",
        "line 5 (index '4'): field 'aspect' is empty",
        "line 6: expected 5 tab-separated fields",
        "line 7 (index '1'): duplicate index (first at line 2)",
    ])
    with pytest.raises(DataError, match="line 1: expected the TomBERT header"):
        read_tombert_tsv(write_tsv(tmp_path / "noheader.tsv", lines[:1], header="1\t2\t1.jpg\t$T$\tA"))


def test_specs_mirror_factories_and_are_registered():
    for name in ("mvsa_single", "mvsa_multiple", "hfm", "twitter2015", "twitter2017"):
        entry = REGISTRY.entry("dataset", name)
        parameters = set(inspect.signature(entry.component).parameters)
        assert parameters == set(entry.spec.model_fields) - {"type"}, name
        assert entry.spec().type == name
    assert MVSASingleSpec().images is True and HFMSpec().images is False
    with pytest.raises(ValidationError):
        MVSASingleSpec(max_train=0)
    with pytest.raises(ValidationError):
        HFMSpec(bogus=1)
    with pytest.raises(TypeError, match=r"twitter2015\(\) got unexpected options \['translations'\]; it takes \['images'"):
        twitter2015(translations=False)


def test_spec_build_loads(data_root):
    splits = MVSASingleSpec(root=str(data_root), max_train=3).build()
    assert splits.info()["train"] == 3
