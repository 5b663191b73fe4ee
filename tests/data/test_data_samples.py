"""DatasetSplits bookkeeping and the deterministic class-stratified subset."""

from __future__ import annotations

from collections import Counter

import pytest

from clmlf.data.samples import DatasetSplits, Sample, stratified_subset


def _samples(labels: list[int]) -> list[Sample]:
    return [Sample(str(i), f"t{i}", label) for i, label in enumerate(labels)]


def test_subset_is_stratified_ordered_and_deterministic():
    samples = _samples([0] * 60 + [1] * 30 + [2] * 10)
    subset = stratified_subset(samples, 10)
    assert Counter(s.label for s in subset) == {0: 6, 1: 3, 2: 1}
    assert [int(s.id) for s in subset] == sorted(int(s.id) for s in subset)
    assert subset == stratified_subset(samples, 10)
    assert len({s.id for s in subset}) == 10


def test_subset_keeps_every_class_when_there_is_room():
    samples = _samples([0] * 98 + [1] + [2])
    assert Counter(s.label for s in stratified_subset(samples, 3)) == {0: 1, 1: 1, 2: 1}
    assert len(stratified_subset(samples, 2)) == 2


@pytest.mark.parametrize("n", [None, 5, 50])
def test_subset_of_all_returns_everything(n):
    samples = _samples([0, 1, 1, 2, 0])
    assert stratified_subset(samples, n) == samples


@pytest.mark.parametrize("n", range(1, 12))
def test_subset_size_is_exact(n):
    assert len(stratified_subset(_samples([0, 0, 0, 1, 1, 2, 2, 2, 2, 0, 1, 3]), n)) == n


def test_info_counts_train_classes_in_label_order():
    splits = DatasetSplits(
        name="toy",
        label_names=("a", "b", "c"),
        train=_samples([2, 0, 2]),
        dev=_samples([1]),
        test=[],
        has_images=False,
        metric="macro",
    )
    assert splits.info() == {"train": 3, "dev": 1, "test": 0, "classes": {"a": 1, "b": 0, "c": 2}}
    assert splits.num_classes == 3 and splits.split("dev") == splits.dev
    assert splits.missing_text_aug == {"train": 3, "dev": 1, "test": 0}
    with pytest.raises(ValueError, match="Unknown split 'val'"):
        splits.split("val")
