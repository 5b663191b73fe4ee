"""Loud errors for audit findings: empty splits, a missing translation file, misspelled translation fields,
non-UTF-8 files, ids leaking across splits and ids with surrounding whitespace."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from clmlf.data.clmlf_json import read_clmlf_split, read_translations
from clmlf.data.errors import DataError
from clmlf.data.readers import hfm, mvsa_single, twitter2015
from clmlf.data.tombert_tsv import read_tombert_tsv

from test_data_readers import LABELS, TSV_HEADER, assert_problems, data_root, rows, write_json, write_tsv  # noqa: F401 (fixture)


def mvsa_file(root: Path, split: str) -> Path:
    return root / "MVSA-single" / "10-flod-1" / f"{split}.json"


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_empty_json_split_is_an_error(data_root, split):
    path = write_json(mvsa_file(data_root, split), [])
    with pytest.raises(DataError, match=rf"^{split} split in {path} has no samples; it must hold a JSON list"):
        mvsa_single(root=data_root)


def test_header_only_tsv_split_is_an_error(data_root):
    path = write_tsv(data_root / "twitter2015" / "train.tsv", [])
    with pytest.raises(DataError, match=rf"^train split in {path} has no samples; .*tab-separated line per sample"):
        twitter2015(root=data_root)


def test_missing_translation_file_names_the_file_and_the_switch(data_root):
    path = data_root / "MVSA-single" / "MVSA-single_translation.json"
    path.unlink()
    with pytest.raises(DataError) as caught:
        mvsa_single(root=data_root)
    message = str(caught.value)
    assert message.startswith(f"Back-translation file MVSA-single_translation.json is missing: expected {path}")
    assert "set `data.dataset.translations: false`" in message and "DBCL then contrasts each text with itself" in message
    assert "Dataset 'MVSA-single' not found" not in message
    assert mvsa_single(root=data_root, translations=False).info()["train"] == 8


def test_translation_rows_without_the_field_or_with_unknown_fields(tmp_path):
    translations = [
        {"id": "a", "text_translation": "fine"},
        {"id": "b", "text_transaltion": "misspelled"},
        {"id": "c", "text_translation": "ok", "note": 1},
        {"id": "d"},
        {"id": "e", "text_translation": ""},
        {"id": "f", "text_translation": None},
    ]
    path = write_json(tmp_path / "tr.json", translations)
    assert_problems(read_translations, path, [
        "row 1 (id 'b'): no field 'text_translation', unknown field 'text_transaltion' (expected the fields 'id' and "
        "'text_translation'; use \"\" or null for a missing translation)",
        "row 2 (id 'c'): unknown field 'note'",
        "row 3 (id 'd'): no field 'text_translation' (expected",
    ])
    ok = write_json(tmp_path / "ok.json", [translations[0], *translations[4:]])
    assert read_translations(ok) == {"a": "fine"}  # empty and null translations stay allowed


def test_translation_field_error_through_the_loader(data_root):
    path = data_root / "MVSA-single" / "MVSA-single_translation.json"
    path.write_text(path.read_text().replace('"text_translation"', '"text_transaltion"', 1))
    with pytest.raises(DataError, match=r"row 0 \(id 'tr0'\): no field 'text_translation', unknown field 'text_transaltion'"):
        mvsa_single(root=data_root)


def test_non_utf8_json_names_file_and_byte_offset(tmp_path):
    path = tmp_path / "train.json"
    path.write_bytes('[{"id": "1", "text": "Winnérs", "emotion_label": 0}]'.encode("latin-1"))
    offset = path.read_bytes().index(b"\xe9")
    expected = rf"^{path}: not UTF-8 text: byte 0xe9 at byte offset {offset} \(line 1\) .*Re-save it as UTF-8"
    with pytest.raises(DataError, match=expected):
        read_clmlf_split(path, LABELS)


def test_utf16_file_is_named_as_utf16(tmp_path):
    path = tmp_path / "train.json"
    path.write_bytes(json.dumps(rows("r", [0])).encode("utf-16"))
    with pytest.raises(DataError, match=r"byte offset 0 \(line 1\) is not valid UTF-8 \(it starts with a UTF-16 byte-order mark"):
        read_clmlf_split(path, LABELS)


def test_non_utf8_tsv_names_the_line(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_bytes(f"{TSV_HEADER}\n1\t1\t1.jpg\t$T$ caf\xe9\tA\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"byte 0xe9 at byte offset \d+ \(line 2\)"):
        read_tombert_tsv(path)


def test_utf8_bom_is_accepted(tmp_path):
    json_path = tmp_path / "train.json"
    json_path.write_bytes(b"\xef\xbb\xbf" + json.dumps(rows("r", [0, 1])).encode())
    assert [s.id for s in read_clmlf_split(json_path, LABELS)] == ["r0", "r1"]
    tsv_path = tmp_path / "train.tsv"
    tsv_path.write_bytes(b"\xef\xbb\xbf" + f"{TSV_HEADER}\n1\t2\t1.jpg\t$T$ ok\tA\n".encode())
    assert read_tombert_tsv(tsv_path)[0].text == "A ok"


def test_id_in_train_and_dev_is_a_leak(data_root):
    dev = rows("dv", [0, 1, 2])
    dev[2]["id"] = "tr3"
    write_json(mvsa_file(data_root, "dev"), dev)
    test = rows("te", [2, 1])
    test[0]["id"] = "tr5"
    write_json(mvsa_file(data_root, "test"), test)
    with pytest.raises(DataError) as caught:
        mvsa_single(root=data_root)
    message = str(caught.value)
    assert message.startswith(f"{data_root / 'MVSA-single'}: 2 problems")
    assert "id 'tr3' is in train (10-flod-1/train.json row 3) and dev (10-flod-1/dev.json row 2)" in message
    assert "id 'tr5' is in train (10-flod-1/train.json row 5) and test (10-flod-1/test.json row 0)" in message
    assert "keep each post in one split file only" in message


def test_hfm_leak_names_valid_json(data_root):
    write_json(data_root / "HFM" / "valid.json", rows("h", [1]))
    with pytest.raises(DataError, match=r"id 'h0' is in train \(train.json row 0\) and dev \(valid.json row 0\)"):
        hfm(root=data_root)


def test_tsv_posts_in_two_splits_are_a_warning(data_root, caplog):
    with caplog.at_level(logging.WARNING, logger="clmlf.data.readers"):
        splits = twitter2015(root=data_root)
    assert splits.info()["train"] == 2  # the fixture repeats its train lines in dev and test; loading goes on
    expected = "tweet 'Chuck is great' with aspect 'Chuck' is in train (train.tsv index '1') and dev (dev.tsv index '1') and test"
    assert expected in caplog.text


def test_tsv_ids_repeating_across_splits_are_fine(data_root, caplog):
    write_tsv(data_root / "twitter2015" / "dev.tsv", ["1\t1\t11.jpg\t$T$ other\tB"])
    write_tsv(data_root / "twitter2015" / "test.tsv", ["1\t0\t12.jpg\t$T$ third\tC"])
    with caplog.at_level(logging.WARNING, logger="clmlf.data.readers"):
        twitter2015(root=data_root)
    assert "more than one split" not in caplog.text and "is in train" not in caplog.text


def test_id_with_whitespace_is_an_error(tmp_path):
    bad = rows("r", [0, 1])
    bad[1]["id"] = " 5"
    path = write_json(tmp_path / "train.json", bad)
    with pytest.raises(DataError, match=r"row 1: field 'id': ' 5' has leading/trailing whitespace, so it would match no "
                                        r"image or back-translation \(write it as '5'\)"):
        read_clmlf_split(path, LABELS)
    tr = write_json(tmp_path / "tr.json", [{"id": "5 ", "text_translation": "x"}])
    with pytest.raises(DataError, match=r"row 0: field 'id': '5 ' has leading/trailing whitespace"):
        read_translations(tr)


def test_tsv_index_and_image_id_with_whitespace_are_errors(tmp_path):
    path = write_tsv(tmp_path / "train.tsv", [" 1\t1\t1.jpg\t$T$ a\tA", "2\t1\t2.jpg \t$T$ b\tB"])
    with pytest.raises(DataError) as caught:
        read_tombert_tsv(path)
    message = str(caught.value)
    assert "line 2 (index ' 1'): field 'index' has leading/trailing whitespace (write it as '1')" in message
    assert "line 3 (index '2'): field 'image id' '2.jpg ' has leading/trailing whitespace (write it as '2.jpg')" in message


def test_a_translation_check_needs_translations():
    import clmlf
    from conftest import TINY_CONFIG

    with pytest.raises(clmlf.SpecError, match="translation_check: drop checks back-translations, but translations is false"):
        clmlf.load_spec(TINY_CONFIG, ["data.dataset.translations=false", "data.dataset.translation_check=drop"])
