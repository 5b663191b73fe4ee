"""The five registered datasets (kind ``dataset``): where each lives under the data root and how it is read.

- ``mvsa_single``: ``MVSA-single/10-flod-1/{train,dev,test}.json``; 0 positive, 1 neutral, 2 negative; weighted F1.
- ``mvsa_multiple``: ``MVSA-multiple/10-flod-1/{train,dev,test}.json``; same labels; weighted F1.
- ``hfm``: ``HFM/{train,valid,test}.json``; 0 not_sarcastic, 1 sarcastic; macro F1.
- ``twitter2015`` / ``twitter2017``: ``<name>/{train,dev,test}.tsv``; 0 negative, 1 neutral, 2 positive; macro F1.

Every dataset keeps its source's label numbering (so predictions compare with the reference code's); the
names in ``DatasetSplits.label_names`` say what each number means. HFM's "positive" class in REFERENCE §5
(8642 train samples) is ``sarcastic``. Back-translations (``text_aug``) exist for the CLMLF JSON datasets; the
HFM file pairs most ids with another tweet's translation (REFERENCE §3): it is used as is, with a warning, unless
``translation_check`` drops or rematches the pairs (:mod:`clmlf.data.translations`). Images: ``<dataset>/dataset_image/``
(only MVSA-Single ships them); asking for images a dataset lacks is an error, not a silent text-only run.
``max_train`` / ``max_eval`` keep a deterministic class-stratified subset (tiny tests, smoke runs).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt

from clmlf.data.clmlf_json import read_clmlf_split, read_translations
from clmlf.data.root import find_dataset_dir, find_image_dir
from clmlf.data.samples import DatasetSplits, SplitName
from clmlf.data.translations import TranslationCheck, attach_translations
from clmlf.data.tombert_tsv import TOMBERT_LABELS, read_tombert_tsv
from clmlf.registry import register
from clmlf.spec import ComponentSpec

logger = logging.getLogger(__name__)

MVSA_LABELS: tuple[str, ...] = ("positive", "neutral", "negative")
HFM_LABELS: tuple[str, ...] = ("not_sarcastic", "sarcastic")


@dataclass(frozen=True)
class DatasetLayout:
    """Where one dataset's files live (relative to its folder under the data root) and how to read them."""

    name: str
    folder: str
    format: Literal["clmlf_json", "tombert_tsv"]
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

    ``translations`` merges the back-translation file (when the layout has one; it must then exist), checked
    against the texts by ``translation_check`` (:mod:`clmlf.data.translations`);
    ``images`` requires ``<dataset>/dataset_image/`` and sets every ``image_path`` (files are checked when
    loaded or by :func:`clmlf.data.images.check_images`, not here).
    """
    translation_file = layout.translation_file if translations else None
    required = [*layout.split_files.values(), *([translation_file] if translation_file else [])]
    directory = find_dataset_dir(layout.folder, required, root)
    image_dir = find_image_dir(directory, layout.image_file) if images else None
    if layout.format == "tombert_tsv":
        parts = {split: read_tombert_tsv(directory / file, image_dir) for split, file in layout.split_files.items()}
    else:
        parts = {split: read_clmlf_split(directory / file, layout.label_names, image_dir) for split, file in layout.split_files.items()}
        if translation_file:
            back = read_translations(directory / translation_file)
            parts = attach_translations(layout.name, parts, back, translation_check, translation_min_overlap)
    splits = DatasetSplits(
        name=layout.name, label_names=layout.label_names, has_images=images, metric=layout.metric, **parts
    ).subset(max_train, max_eval)
    if translation_file and any(splits.missing_text_aug.values()):
        logger.info("%s: samples without a back-translation (text_aug=None) per split: %s", layout.name, splits.missing_text_aug)
    return splits


class DatasetOptions(ComponentSpec):
    """Fields every dataset spec shares (not registered itself)."""

    root: str | None = None
    images: bool = False
    max_train: PositiveInt | None = None
    max_eval: PositiveInt | None = None


class TranslatedDatasetOptions(DatasetOptions):
    """Fields of the datasets with a back-translation file (not registered itself): ``translations: false``
    leaves it out; ``translation_check`` (off / drop / rematch) checks each translation against its text, a match
    being a word overlap ≥ ``translation_min_overlap`` (:mod:`clmlf.data.translations`)."""

    translations: bool = True
    translation_check: TranslationCheck = "off"
    translation_min_overlap: float = Field(0.1, gt=0, le=1)


class MVSASingleSpec(TranslatedDatasetOptions):
    type: Literal["mvsa_single"] = "mvsa_single"
    images: bool = True


class MVSAMultipleSpec(TranslatedDatasetOptions):
    type: Literal["mvsa_multiple"] = "mvsa_multiple"


class HFMSpec(TranslatedDatasetOptions):
    type: Literal["hfm"] = "hfm"


class Twitter2015Spec(DatasetOptions):
    type: Literal["twitter2015"] = "twitter2015"


class Twitter2017Spec(DatasetOptions):
    type: Literal["twitter2017"] = "twitter2017"


@register("dataset", "mvsa_single", spec=MVSASingleSpec)
def mvsa_single(
    root: str | Path | None = None,
    images: bool = True,
    translations: bool = True,
    max_train: int | None = None,
    max_eval: int | None = None,
    translation_check: TranslationCheck = "off",
    translation_min_overlap: float = 0.1,
) -> DatasetSplits:
    """MVSA-Single (CLMLF fold 1, 3611/450/450), with images by default."""
    return load_dataset(MVSA_SINGLE, root, images, translations, max_train, max_eval, translation_check, translation_min_overlap)


@register("dataset", "mvsa_multiple", spec=MVSAMultipleSpec)
def mvsa_multiple(
    root: str | Path | None = None,
    images: bool = False,
    translations: bool = True,
    max_train: int | None = None,
    max_eval: int | None = None,
    translation_check: TranslationCheck = "off",
    translation_min_overlap: float = 0.1,
) -> DatasetSplits:
    """MVSA-Multiple (CLMLF fold 1, 13624/1700/1700), text only in the shared bundle."""
    return load_dataset(MVSA_MULTIPLE, root, images, translations, max_train, max_eval, translation_check, translation_min_overlap)


@register("dataset", "hfm", spec=HFMSpec)
def hfm(
    root: str | Path | None = None,
    images: bool = False,
    translations: bool = True,
    max_train: int | None = None,
    max_eval: int | None = None,
    translation_check: TranslationCheck = "off",
    translation_min_overlap: float = 0.1,
) -> DatasetSplits:
    """HFM Twitter sarcasm (19816/2410/2409; ``valid.json`` is the dev split), text only in the shared bundle."""
    return load_dataset(HFM, root, images, translations, max_train, max_eval, translation_check, translation_min_overlap)


@register("dataset", "twitter2015", spec=Twitter2015Spec)
def twitter2015(
    root: str | Path | None = None, images: bool = False, max_train: int | None = None, max_eval: int | None = None
) -> DatasetSplits:
    """Aspect-based Twitter-15 (TomBERT, 3179/1122/1037), text + aspect; no back-translations."""
    return load_dataset(TWITTER2015, root, images, False, max_train, max_eval)


@register("dataset", "twitter2017", spec=Twitter2017Spec)
def twitter2017(
    root: str | Path | None = None, images: bool = False, max_train: int | None = None, max_eval: int | None = None
) -> DatasetSplits:
    """Aspect-based Twitter-17 (TomBERT, 3562/1176/1234), text + aspect; no back-translations."""
    return load_dataset(TWITTER2017, root, images, False, max_train, max_eval)
