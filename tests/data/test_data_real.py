"""The five real datasets match docs/method.md §5 (split sizes, train class counts). Skipped without the shared data."""

from __future__ import annotations

import pytest

from clmlf.data.errors import DataError
from clmlf.data.images import check_images
from clmlf.data.readers import hfm, mvsa_multiple, mvsa_single, twitter2015, twitter2017
from clmlf.data.root import resolve_data_root

try:
    ROOT = resolve_data_root()
except DataError:
    ROOT = None
pytestmark = pytest.mark.skipif(ROOT is None, reason="shared data not found (set CLMLF_DATA_DIR to run)")

EXPECTED = {
    mvsa_single: (3611, 450, 450, {"positive": 2147, "neutral": 376, "negative": 1088}),
    mvsa_multiple: (13624, 1700, 1700, {"positive": 9056, "neutral": 3528, "negative": 1040}),
    hfm: (19816, 2410, 2409, {"not_sarcastic": 11174, "sarcastic": 8642}),
    twitter2015: (3179, 1122, 1037, {"negative": 368, "neutral": 1883, "positive": 928}),
    twitter2017: (3562, 1176, 1234, {"negative": 416, "neutral": 1638, "positive": 1508}),
}


@pytest.mark.parametrize("load", list(EXPECTED), ids=lambda load: load.__name__)
def test_split_sizes_and_train_class_counts(load):
    train, dev, test, classes = EXPECTED[load]
    assert load(root=ROOT).info() == {"train": train, "dev": dev, "test": test, "classes": classes}


def test_back_translations_merged():
    assert mvsa_single(root=ROOT).missing_text_aug == {"train": 0, "dev": 0, "test": 0}
    missing = mvsa_multiple(root=ROOT)
    assert missing.missing_text_aug == {"train": 1, "dev": 0, "test": 0}
    assert [s.id for s in missing.train if s.text_aug is None] == ["20702"]


def test_mvsa_single_images_exist_and_load():
    splits = mvsa_single(root=ROOT, max_train=30, max_eval=5)
    assert all(s.image_path.is_file() for s in mvsa_single(root=ROOT).test)
    check = check_images(splits.train + splits.dev, on_bad_image="error")
    assert check.skipped == 0 and len(check.kept) == 35
