"""Posts from CSV files: ``train.csv``, ``dev.csv`` and ``test.csv`` with ``text,label[,image]`` columns."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveInt

from clmlf import ComponentSpec
from clmlf.data.samples import DatasetSplits, Sample

SAMPLE = Path(__file__).parent / "sample"  # three tiny text-only splits shipped with the package


class PostsCSVSpec(ComponentSpec):
    type: Literal["posts_csv"] = "posts_csv"
    root: str | None = None  # the folder of the CSV files; data.root or --root fills it
    labels: list[str] | None = Field(None, min_length=2)  # class order (default: the train labels, sorted)
    max_train: PositiveInt | None = None
    max_eval: PositiveInt | None = None

    @classmethod
    def example(cls) -> dict[str, Any]:
        return {"root": str(SAMPLE)}


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise ValueError(f"{path}: no such file; data.dataset.root must be a folder with train.csv, dev.csv and test.csv")
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    missing = {"text", "label"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"{path}: no column {', '.join(sorted(missing))}; the header must be text,label[,image]")
    return rows


def posts_csv(root: str | None = None, labels: list[str] | None = None, max_train: int | None = None,
              max_eval: int | None = None) -> DatasetSplits:
    """The three splits; ``image`` paths are relative to ``root``; a row's label must be one of the classes."""
    folder = Path(root or ".")
    rows = {split: read_rows(folder / f"{split}.csv") for split in ("train", "dev", "test")}
    names = tuple(labels or sorted({row["label"] for row in rows["train"]}))
    has_images = all(row.get("image") for split in rows.values() for row in split)
    splits = {}
    for split, split_rows in rows.items():
        unknown = [row["label"] for row in split_rows if row["label"] not in names]
        if unknown:
            raise ValueError(f"{folder / f'{split}.csv'}: label {unknown[0]!r} is not one of {list(names)}")
        splits[split] = [Sample(id=f"{split}-{index}", text=row["text"], label=names.index(row["label"]),
                                image_path=folder / row["image"] if has_images else None)
                         for index, row in enumerate(split_rows)]
    return DatasetSplits(name="posts_csv", label_names=names, has_images=has_images, metric="weighted",
                         **splits).subset(max_train, max_eval)
