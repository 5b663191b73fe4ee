"""In-memory datasets: one :class:`Sample` per post, :class:`DatasetSplits` for train/dev/test."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

SplitName = Literal["train", "dev", "test"]
SPLITS: tuple[SplitName, ...] = ("train", "dev", "test")


@dataclass(frozen=True)
class Sample:
    """One post.

    ``text`` is what the text encoder reads (aspect datasets: ``$T$`` already replaced by the aspect term);
    ``label`` indexes :attr:`DatasetSplits.label_names`; ``aspect`` is the aspect term (aspect datasets only);
    ``image_path`` is the image file (``None``: text only); ``text_aug`` is the back-translation used as the
    augmented text view for DBCL (``None`` where the dataset has none for this id).
    """

    id: str
    text: str
    label: int
    aspect: str | None = None
    image_path: Path | None = None
    text_aug: str | None = None


@dataclass(frozen=True, kw_only=True)
class DatasetSplits:
    """A dataset's three splits plus what a trainer needs to know about it.

    ``metric`` is the ``average=`` of the dataset's reported F1: ``"weighted"`` for MVSA, ``"macro"`` for HFM
    and the aspect datasets (docs/method.md §4). ``has_images`` says every sample carries an ``image_path``.
    """

    name: str
    label_names: tuple[str, ...]
    train: list[Sample]
    dev: list[Sample]
    test: list[Sample]
    has_images: bool
    metric: Literal["weighted", "macro"]

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def split(self, name: SplitName) -> list[Sample]:
        """The samples of split ``"train"``, ``"dev"`` or ``"test"``."""
        if name not in SPLITS:
            raise ValueError(f"Unknown split {name!r}; choose one of {', '.join(SPLITS)}.")
        return getattr(self, name)

    def info(self) -> dict[str, object]:
        """``{"train": n, "dev": n, "test": n, "classes": {label_name: count}}``.

        ``classes`` counts the **train** split (the class counts docs/method.md §5 / the paper's tables give),
        in label-id order, zero counts included.
        """
        counts = Counter(sample.label for sample in self.train)
        return {
            **{name: len(self.split(name)) for name in SPLITS},
            "classes": {label: counts.get(index, 0) for index, label in enumerate(self.label_names)},
        }

    @property
    def missing_text_aug(self) -> dict[str, int]:
        """Per split, how many samples have no back-translation (``text_aug is None``)."""
        return {name: sum(sample.text_aug is None for sample in self.split(name)) for name in SPLITS}

    def subset(self, max_train: int | None = None, max_eval: int | None = None) -> DatasetSplits:
        """At most ``max_train`` train and ``max_eval`` dev/test samples each (see :func:`stratified_subset`)."""
        return replace(
            self,
            train=stratified_subset(self.train, max_train),
            dev=stratified_subset(self.dev, max_eval),
            test=stratified_subset(self.test, max_eval),
        )


def stratified_subset(samples: Sequence[Sample], n: int | None) -> list[Sample]:
    """A deterministic, class-stratified subset of ``n`` samples in their original order (all when ``n`` is None/large).

    Each class gets ``n · share`` places (largest remainders round up; every class keeps at least one place
    when ``n`` is at least the number of classes), filled with evenly spaced members of that class, so the
    subset neither depends on a seed nor on how the file happens to be sorted.
    """
    if n is None or n >= len(samples):
        return list(samples)
    members: dict[int, list[int]] = {}
    for index, sample in enumerate(samples):
        members.setdefault(sample.label, []).append(index)
    exact = {label: n * len(indices) / len(samples) for label, indices in members.items()}
    quota = {label: int(share) for label, share in exact.items()}
    by_remainder = sorted(members, key=lambda label: (quota[label] - exact[label], label))
    for label in by_remainder[: n - sum(quota.values())]:
        quota[label] += 1
    if n >= len(members):
        for label in sorted(members):
            if quota[label] == 0:
                donor = max(sorted(quota), key=lambda other: quota[other])
                quota[donor] -= 1
                quota[label] = 1
    chosen = sorted(
        indices[int((j + 0.5) * len(indices) / quota[label])] for label, indices in members.items() for j in range(quota[label])
    )
    return [samples[index] for index in chosen]
