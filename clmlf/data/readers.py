"""The five registered datasets (kind ``dataset``): where each lives under the data root and how it is read.

- ``mvsa_single``: ``MVSA-single/10-flod-1/{train,dev,test}.json``; 0 positive, 1 neutral, 2 negative; weighted F1.
- ``mvsa_multiple``: ``MVSA-multiple/10-flod-1/{train,dev,test}.json``; same labels; weighted F1.
- ``hfm``: ``HFM/{train,valid,test}.json``; 0 not_sarcastic, 1 sarcastic; macro F1.
- ``twitter2015`` / ``twitter2017``: ``<name>/{train,dev,test}.tsv``; 0 negative, 1 neutral, 2 positive; macro F1.

Every dataset keeps its source's label numbering (so predictions compare with the reference code's); the
names in ``DatasetSplits.label_names`` say what each number means. HFM's "positive" class in docs/method.md §5
(8642 train samples) is ``sarcastic``. Back-translations (``text_aug``) exist for the CLMLF JSON datasets; the
HFM file pairs most ids with another tweet's translation (docs/method.md §3): it is used as is, with a warning, unless
``translation_check`` drops or rematches the pairs (:mod:`clmlf.data.translations`). Images: ``<dataset>/dataset_image/``
(only MVSA-Single ships them); asking for images a dataset lacks is an error, not a silent text-only run.
``max_train`` / ``max_eval`` keep a deterministic class-stratified subset (tiny tests, smoke runs).
"""

from __future__ import annotations

import functools
import inspect
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import Field, PositiveInt, model_validator

from clmlf.data.clmlf_json import read_clmlf_split, read_translations
from clmlf.data.errors import DataError, problems_error
from clmlf.data.root import find_dataset_dir, find_image_dir
from clmlf.data.samples import DatasetSplits, Sample, SplitName
from clmlf.data.translations import CHECK_DESCRIPTION, MIN_OVERLAP_DESCRIPTION, TranslationCheck, attach_translations
from clmlf.data.tombert_tsv import TOMBERT_LABELS, read_tombert_tsv
from clmlf.spec import ComponentSpec

logger = logging.getLogger(__name__)

LEAK_HINT = ("A post in more than one split leaks evaluation data into training (or counts twice): keep each post in "
             "one split file only.")
SAMPLE_FORMAT = {
    "clmlf_json": 'a JSON list of {"id": str, "text": str, "emotion_label": int} objects',
    "tombert_tsv": "a header line, then one tab-separated line per sample (index, label, image id, tweet with $T$, aspect)",
}

MVSA_LABELS: tuple[str, ...] = ("positive", "neutral", "negative")
HFM_LABELS: tuple[str, ...] = ("not_sarcastic", "sarcastic")


@dataclass(frozen=True)
class DatasetLayout:
    """Where one dataset's files live (relative to its folder under the data root) and how to read them."""

    name: str
    folder: str
    format: Literal["clmlf_json", "tombert_tsv", "jsonl"]
    split_files: dict[SplitName, str]
    label_names: tuple[str, ...]
    metric: Literal["weighted", "macro"]
    translation_file: str | None = None
    image_file: str = "<id>.jpg"


def _fold(extension: str = "json") -> dict[SplitName, str]:
    return {split: f"10-flod-1/{split}.{extension}" for split in ("train", "dev", "test")}


def _tsv() -> dict[SplitName, str]:
    return {split: f"{split}.tsv" for split in ("train", "dev", "test")}


MVSA_SINGLE = DatasetLayout(
    "mvsa_single", "MVSA-single", "clmlf_json", _fold(), MVSA_LABELS, "weighted", "MVSA-single_translation.json"
)
MVSA_MULTIPLE = DatasetLayout(
    "mvsa_multiple", "MVSA-multiple", "clmlf_json", _fold(), MVSA_LABELS, "weighted", "MVSA-multiple_translation.json"
)
HFM = DatasetLayout(
    "hfm", "HFM", "clmlf_json", {"train": "train.json", "dev": "valid.json", "test": "test.json"}, HFM_LABELS, "macro", "HFM.json"
)
TWITTER2015 = DatasetLayout(
    "twitter2015", "twitter2015", "tombert_tsv", _tsv(), TOMBERT_LABELS, "macro", image_file="<the TSV's image id>"
)
TWITTER2017 = DatasetLayout(
    "twitter2017", "twitter2017", "tombert_tsv", _tsv(), TOMBERT_LABELS, "macro", image_file="<the TSV's image id>"
)


def load_dataset(
    layout: DatasetLayout,
    root: str | Path | None = None,
    images: bool = False,
    translations: bool = True,
    max_train: int | None = None,
    max_eval: int | None = None,
    translation_check: TranslationCheck = "off",
    translation_min_overlap: float = 0.1,
) -> DatasetSplits:
    """Read ``layout``'s three splits from the data root (see :mod:`clmlf.data.root`), then subset them.

    Every split must hold samples, and no post may be in two splits (:func:`check_disjoint`).
    ``translations`` merges the back-translation file (when the layout has one; it must then exist), checked
    against the texts by ``translation_check`` (:mod:`clmlf.data.translations`);
    ``images`` requires ``<dataset>/dataset_image/`` and sets every ``image_path`` (files are checked when
    loaded or by :func:`clmlf.data.images.check_images`, not here).
    """
    translation_file = layout.translation_file if translations else None
    directory = find_dataset_dir(layout.folder, list(layout.split_files.values()), root)
    if translation_file:
        check_translation_file(directory / translation_file)
    image_dir = find_image_dir(directory, layout.image_file) if images else None
    if layout.format == "tombert_tsv":
        parts = {split: read_tombert_tsv(directory / file, image_dir) for split, file in layout.split_files.items()}
    else:
        parts = {split: read_clmlf_split(directory / file, layout.label_names, image_dir) for split, file in layout.split_files.items()}
    check_not_empty(layout, directory, parts)
    check_disjoint(layout, directory, parts)
    if translation_file:
        back = read_translations(directory / translation_file)
        parts = attach_translations(layout.name, parts, back, translation_check, translation_min_overlap)
    splits = DatasetSplits(
        name=layout.name, label_names=layout.label_names, has_images=images, metric=layout.metric, **parts
    ).subset(max_train, max_eval)
    if translation_file and any(splits.missing_text_aug.values()):
        logger.info("%s: samples without a back-translation (text_aug=None) per split: %s", layout.name, splits.missing_text_aug)
    return splits


def check_translation_file(path: Path) -> None:
    """A :class:`DataError` saying how to go on without it when the back-translation file ``path`` is missing."""
    if path.is_file():
        return
    raise DataError(
        f"Back-translation file {path.name} is missing: expected {path} (beside the split files). Restore it (from "
        "the CLMLF reference repository's dataset/data/), or set `data.dataset.translations: false` "
        "(--set data.dataset.translations=false) to train without back-translations (DBCL then contrasts each text "
        "with itself under another dropout mask)."
    )


def check_not_empty(layout: DatasetLayout, directory: Path, parts: dict[SplitName, list[Sample]]) -> None:
    """A :class:`DataError` naming the first split file that holds no samples."""
    for split, samples in parts.items():
        if not samples:
            raise DataError(
                f"{split} split in {directory / layout.split_files[split]} has no samples; it must hold "
                f"{SAMPLE_FORMAT[layout.format]}. Restore the file or point data.root at a complete copy of {layout.folder}."
            )


def check_disjoint(layout: DatasetLayout, directory: Path, parts: dict[SplitName, list[Sample]],
                   rows: dict[SplitName, list[str]] | None = None) -> None:
    """No post in more than one split: ids for CLMLF JSON and JSONL (an error), tweet + aspect for TomBERT TSV (a
    warning). ``rows``: where each sample is in its file, for the messages (default ``row INDEX``).

    TomBERT's ``index`` restarts in every file, so its ids repeat across splits by design; the shared Twitter-17
    has one post (same image, tweet and aspect) in both train and test, hence only a warning for that layout.
    """
    if layout.format != "tombert_tsv":
        rows = rows or {split: [f"row {row}" for row in range(len(samples))] for split, samples in parts.items()}
        keyed = {split: [(s.id, where) for s, where in zip(samples, rows[split])] for split, samples in parts.items()}
        problems = [f"id {key!r} is in {places}" for key, places in _repeats(layout, keyed)]
        if problems:
            raise problems_error(directory, problems, LEAK_HINT)
        return
    keyed = {split: [((s.text, s.aspect), f"index {s.id!r}") for s in samples] for split, samples in parts.items()}
    repeats = _repeats(layout, keyed)
    problems = [f"tweet {text[:60]!r} with aspect {aspect!r} is in {places}" for (text, aspect), places in repeats]
    if problems:
        logger.warning("%s", problems_error(directory, problems, f"{LEAK_HINT} (Loading goes on.)"))


def _repeats(layout: DatasetLayout, keyed: dict[SplitName, list[tuple[object, str]]]) -> list[tuple[object, str]]:
    """``(key, "train (FILE row 3) and dev (FILE row 0)")`` for every key found in more than one split."""
    seen: dict[object, dict[SplitName, str]] = {}
    for split, pairs in keyed.items():
        for key, where in pairs:
            seen.setdefault(key, {}).setdefault(split, f"{split} ({layout.split_files[split]} {where})")
    return [(key, " and ".join(places.values())) for key, places in seen.items() if len(places) > 1]


class DatasetOptions(ComponentSpec):
    """Fields every dataset spec shares (not registered itself)."""

    root: str | None = Field(None, description="data root, the folder that holds the dataset folders (data.root "
                             "overrides it); null: CLMLF_DATA_DIR, then a shared/data folder found upwards")
    images: bool = Field(False, description="give each sample its image from <dataset>/dataset_image/ (an error where "
                         "the dataset has none); false: text only")
    max_train: PositiveInt | None = Field(None, description="keep at most this many train samples (a deterministic, "
                                          "class-stratified subset); null: all")
    max_eval: PositiveInt | None = Field(None, description="keep at most this many dev and this many test samples "
                                         "(class-stratified); null: all")

    @classmethod
    def example(cls) -> dict[str, Any]:
        return {"max_train": 12, "max_eval": 6}


class TranslatedDatasetOptions(DatasetOptions):
    """Fields of the datasets with a back-translation file (not registered itself): ``translations: false``
    leaves it out; ``translation_check`` (off / drop / rematch) checks each translation against its text, a match
    being a word overlap ≥ ``translation_min_overlap`` (:mod:`clmlf.data.translations`)."""

    translations: bool = Field(True, description="merge the back-translation file (the augmented text DBCL contrasts); "
                               "false: none, DBCL contrasts each text with itself under another dropout mask")
    translation_check: TranslationCheck = Field("off", description=CHECK_DESCRIPTION)
    translation_min_overlap: float = Field(0.1, gt=0, le=1, description=MIN_OVERLAP_DESCRIPTION)

    @model_validator(mode="after")
    def _check_needs_translations(self) -> TranslatedDatasetOptions:
        if self.translation_check != "off" and not self.translations:
            raise ValueError(f"translation_check: {self.translation_check} checks back-translations, but translations is "
                             "false; set translations: true or drop translation_check")
        return self


class MVSASingleSpec(TranslatedDatasetOptions):
    type: Literal["mvsa_single"] = "mvsa_single"
    images: bool = Field(True, description=DatasetOptions.model_fields["images"].description)


class MVSAMultipleSpec(TranslatedDatasetOptions):
    type: Literal["mvsa_multiple"] = "mvsa_multiple"


class HFMSpec(TranslatedDatasetOptions):
    type: Literal["hfm"] = "hfm"


class Twitter2015Spec(DatasetOptions):
    type: Literal["twitter2015"] = "twitter2015"


class Twitter2017Spec(DatasetOptions):
    type: Literal["twitter2017"] = "twitter2017"


def reads(layout: DatasetLayout, spec: type[DatasetOptions]) -> Callable[[Callable], Callable[..., DatasetSplits]]:
    """Decorator: the stub it decorates (a name and a docstring) becomes the factory that reads ``layout``; its
    keyword arguments are ``spec``'s fields, each defaulting to the spec's default."""
    fields = {name: field.default for name, field in spec.model_fields.items() if name != "type"}

    def decorate(stub: Callable) -> Callable[..., DatasetSplits]:
        @functools.wraps(stub)
        def factory(**options: Any) -> DatasetSplits:
            unknown = sorted(set(options) - set(fields))
            if unknown:
                raise TypeError(f"{layout.name}() got unexpected options {unknown}; it takes {sorted(fields)}")
            return load_dataset(layout, **{**fields, **options})

        factory.__signature__ = inspect.Signature(
            [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default) for name, default in fields.items()],
            return_annotation=DatasetSplits,
        )
        return factory

    return decorate


@reads(MVSA_SINGLE, MVSASingleSpec)
def mvsa_single():
    """MVSA-Single (CLMLF fold 1, 3611/450/450), with images by default."""


@reads(MVSA_MULTIPLE, MVSAMultipleSpec)
def mvsa_multiple():
    """MVSA-Multiple (CLMLF fold 1, 13624/1700/1700), text only in the shared bundle."""


@reads(HFM, HFMSpec)
def hfm():
    """HFM Twitter sarcasm (19816/2410/2409; ``valid.json`` is the dev split), text only in the shared bundle."""


@reads(TWITTER2015, Twitter2015Spec)
def twitter2015():
    """Aspect-based Twitter-15 (TomBERT, 3179/1122/1037), text + aspect; no back-translations."""


@reads(TWITTER2017, Twitter2017Spec)
def twitter2017():
    """Aspect-based Twitter-17 (TomBERT, 3562/1176/1234), text + aspect; no back-translations."""
