"""Attaching back-translations to samples, checked against their texts (docs/method.md §3).

A back-translation *matches* a text when their lower-cased word sets overlap enough: Jaccard ≥ ``min_overlap``
(0.1 by default; an aligned MVSA pair overlaps 0.4 at the median, HFM's file pairs 97% of train ids with a
translation of another tweet, overlapping < 0.1). Checks (``translation_check``):

- ``off``: every translation stays on its id, as in the reference code. A file where most pairs do not match gets
  a warning that names the fix.
- ``drop``: translations that do not match their text are dropped.
- ``rematch``: a translation that does not match its own text moves to the text it does match (found through
  the words they share that are rare in the dataset), when that text has no matching translation of its own;
  where several compete for one text the closest wins. The rest are dropped.

A sample left without a translation gets ``text_aug=None``: DBCL then contrasts its text with itself under
another dropout mask.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from clmlf.data.samples import Sample, SplitName

logger = logging.getLogger(__name__)

TranslationCheck = Literal["off", "drop", "rematch"]
CHECK_DESCRIPTION = ("check each back-translation against its text: off (keep every pair, as the reference code), drop "
                     "(drop those that do not match) or rematch (move one to the text it matches)")
MIN_OVERLAP_DESCRIPTION = "word overlap (Jaccard of the lower-cased word sets) at which a back-translation matches a text"
"""Descriptions of the ``translation_check`` / ``translation_min_overlap`` fields of every dataset spec that has them."""
RARE_WORD_MAX_TEXTS = 20  # a word in at most this many texts points rematching at candidate texts
CANDIDATES_PER_TRANSLATION = 5  # candidate texts (most shared rare words first) scored by their full overlap
WARN_UNMATCHED_FRACTION = 0.5
WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> frozenset[str]:
    """The lower-cased words of ``text`` (letters, digits, apostrophes)."""
    return frozenset(WORD.findall(text.lower()))


def word_overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard overlap of two word sets (0 when both are empty)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@dataclass(frozen=True)
class TranslationReport:
    """What a check did with a translation file: of the ``total`` translations of ids in the dataset, ``unmatched``
    did not match their own text; ``matched`` stayed on their id, ``moved`` went to the text they translate,
    ``dropped`` were left out. ``orphans`` translations name ids in no split (ignored)."""

    total: int
    orphans: int
    unmatched: int
    matched: int
    moved: int
    dropped: int

    def __str__(self) -> str:
        return (f"{self.unmatched} of {self.total} back-translations do not match their text; kept {self.matched} "
                f"in place, moved {self.moved} to the text they translate, dropped {self.dropped} "
                f"({self.orphans} more name ids in no split)")


def match_translations(texts: Mapping[str, str], translations: Mapping[str, str], check: TranslationCheck,
                       min_overlap: float = 0.1) -> tuple[dict[str, str], TranslationReport]:
    """``{id: back-translation}`` after ``check`` (see the module docstring) of ``translations`` against ``texts``
    (``{id: text}`` of every split: a translation may belong to a text in another split)."""
    text_words = {sample_id: words(text) for sample_id, text in texts.items()}
    translation_words = {sample_id: words(text) for sample_id, text in translations.items() if sample_id in texts}
    own = {sample_id: word_overlap(tokens, text_words[sample_id]) for sample_id, tokens in translation_words.items()}
    matched = {sample_id: translations[sample_id] for sample_id, overlap in own.items() if overlap >= min_overlap}
    unmatched = sorted(set(own) - set(matched))
    counts = {"total": len(own), "orphans": len(translations) - len(own), "unmatched": len(unmatched)}
    if check == "off":
        return {sample_id: translations[sample_id] for sample_id in own}, TranslationReport(**counts, matched=len(own), moved=0, dropped=0)
    moved = _rematch(unmatched, translations, translation_words, text_words, set(matched), min_overlap) if check == "rematch" else {}
    report = TranslationReport(**counts, matched=len(matched), moved=len(moved), dropped=len(unmatched) - len(moved))
    return {**matched, **moved}, report


def _rematch(sources: list[str], translations: Mapping[str, str], translation_words: Mapping[str, frozenset[str]],
             text_words: Mapping[str, frozenset[str]], taken: set[str], min_overlap: float) -> dict[str, str]:
    """``{target id: translation}`` for the ``sources`` translations that match another, untaken text."""
    frequency = Counter(word for tokens in text_words.values() for word in tokens)
    index: dict[str, list[str]] = defaultdict(list)
    for sample_id, tokens in text_words.items():
        if sample_id not in taken:
            for word in tokens:
                if frequency[word] <= RARE_WORD_MAX_TEXTS:
                    index[word].append(sample_id)
    best: dict[str, tuple[float, str]] = {}  # target id -> (overlap, source id)
    for source in sources:
        tokens = translation_words[source]
        shared = Counter(target for word in tokens for target in index.get(word, ()))
        candidates = sorted(shared, key=lambda target: (-shared[target], target))[:CANDIDATES_PER_TRANSLATION]
        scored = [(word_overlap(tokens, text_words[target]), target) for target in candidates]
        overlap, target = max(scored, default=(0.0, ""))
        if overlap >= min_overlap and (target not in best or overlap > best[target][0]):
            best[target] = (overlap, source)
    return {target: translations[source] for target, (_, source) in sorted(best.items())}


def attach_translations(dataset: str, parts: Mapping[SplitName, list[Sample]], translations: Mapping[str, str],
                        check: TranslationCheck, min_overlap: float = 0.1) -> dict[SplitName, list[Sample]]:
    """``parts`` with each sample's ``text_aug`` set from ``translations`` after ``check``; logs what the check did."""
    texts = {sample.id: sample.text for samples in parts.values() for sample in samples}
    chosen, report = match_translations(texts, translations, check, min_overlap)
    if check != "off":
        logger.info("%s: translation_check %s: %s", dataset, check, report)
    elif report.total and report.unmatched > WARN_UNMATCHED_FRACTION * report.total:
        logger.warning(
            "%s: %s of %s back-translations share almost no words with their text (word overlap < %s): the file pairs "
            "them with other texts, so DBCL would contrast unrelated posts. Set data.dataset.translation_check: rematch "
            "(or drop), or translations: false.", dataset, report.unmatched, report.total, min_overlap)
    return {split: [replace(sample, text_aug=chosen.get(sample.id)) for sample in samples] for split, samples in parts.items()}
