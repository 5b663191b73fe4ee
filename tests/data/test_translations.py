"""Back-translation checks: overlap, drop, rematch (the HFM misalignment of docs/method.md §3) and the reader options."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import ValidationError

from clmlf.data.readers import HFMSpec, hfm
from clmlf.data.translations import TranslationReport, match_translations, word_overlap, words

TEXTS = {
    "a": "the zelda water temple dungeon is hard",
    "b": "pro dog trainer makes drone splash video",
    "c": "my cat sleeps on the keyboard again",
    "d": "haha lol",
}
# a and b hold each other's translation; c holds its own; d's is unrelated to every text; "x" names no sample.
SHIFTED = {
    "a": "professional dog trainer makes a drone splash",
    "b": "zelda water temple dungeon is so hard",
    "c": "my cat sleeps on my keyboard again",
    "d": "ha ha hero alliance",
    "x": "an orphan translation",
}


def test_words_and_overlap():
    assert words("Hello, <user> it's #Zelda!") == {"hello", "user", "it's", "zelda"}
    assert word_overlap(words("a b c"), words("b c d")) == pytest.approx(2 / 4)
    assert word_overlap(frozenset(), frozenset()) == 0.0


def test_off_keeps_every_pair_and_counts_the_unmatched():
    chosen, report = match_translations(TEXTS, SHIFTED, "off")
    assert chosen == {key: SHIFTED[key] for key in "abcd"}
    assert report == TranslationReport(total=4, orphans=1, unmatched=3, matched=4, moved=0, dropped=0)


def test_drop_keeps_only_matching_pairs():
    chosen, report = match_translations(TEXTS, SHIFTED, "drop")
    assert chosen == {"c": SHIFTED["c"]}
    assert (report.unmatched, report.matched, report.moved, report.dropped) == (3, 1, 0, 3)


def test_rematch_moves_translations_to_the_text_they_translate():
    chosen, report = match_translations(TEXTS, SHIFTED, "rematch")
    assert chosen == {"a": SHIFTED["b"], "b": SHIFTED["a"], "c": SHIFTED["c"]}
    assert (report.matched, report.moved, report.dropped) == (1, 2, 1)


def test_rematch_gives_a_contested_text_the_closest_translation_and_never_a_matched_one():
    texts = {"t": "blue whale song recorded near iceland", "u": "red fox", "v": "green frog", "w": "blue whale"}
    translations = {"u": "blue whale song recorded close to iceland", "v": "blue whale song near iceland recorded today",
                    "w": "blue whale"}
    chosen, report = match_translations(texts, translations, "rematch")
    assert chosen == {"t": translations["v"], "w": "blue whale"}  # v's overlap 5/7 beats u's 5/8; w keeps its own
    assert (report.matched, report.moved, report.dropped) == (1, 1, 1)


def test_min_overlap_sets_what_counts_as_a_match():
    texts, translations = {"a": "one two three four"}, {"a": "one five six seven"}  # overlap 1/7
    assert match_translations(texts, translations, "drop", min_overlap=0.1)[0] == translations
    assert match_translations(texts, translations, "drop", min_overlap=0.2)[0] == {}


def write_hfm(root, translations: dict[str, str]) -> None:
    folder = root / "HFM"
    folder.mkdir(parents=True)
    ids = list(TEXTS)
    for name, part in (("train.json", ids[:2]), ("valid.json", ids[2:3]), ("test.json", ids[3:])):
        (folder / name).write_text(json.dumps([{"id": key, "text": TEXTS[key], "emotion_label": 0} for key in part]))
    (folder / "HFM.json").write_text(json.dumps([{"id": key, "text_translation": text} for key, text in translations.items()]))


def test_reader_warns_about_a_misaligned_file_and_rematches_on_request(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("CLMLF_DATA_DIR", raising=False)
    write_hfm(tmp_path, SHIFTED)
    with caplog.at_level(logging.WARNING, logger="clmlf.data.translations"):
        as_is = hfm(root=tmp_path)
    assert "3 of 4 back-translations share almost no words" in caplog.text and "translation_check: rematch" in caplog.text
    assert [sample.text_aug for sample in as_is.train] == [SHIFTED["a"], SHIFTED["b"]]
    rematched = hfm(**HFMSpec(root=str(tmp_path), translation_check="rematch").model_dump(exclude={"type"}))
    assert [sample.text_aug for sample in rematched.train] == [SHIFTED["b"], SHIFTED["a"]]
    assert rematched.dev[0].text_aug == SHIFTED["c"] and rematched.test[0].text_aug is None


def test_aligned_file_gets_no_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("CLMLF_DATA_DIR", raising=False)
    write_hfm(tmp_path, {key: text.upper() for key, text in TEXTS.items()})
    with caplog.at_level(logging.WARNING, logger="clmlf.data.translations"):
        assert hfm(root=tmp_path).train[0].text_aug == TEXTS["a"].upper()
    assert caplog.text == ""


def test_spec_rejects_unknown_checks_and_overlaps():
    with pytest.raises(ValidationError, match="translation_check"):
        HFMSpec(translation_check="fix")
    with pytest.raises(ValidationError, match="translation_min_overlap"):
        HFMSpec(translation_min_overlap=0)
