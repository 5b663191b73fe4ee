"""Your own posts as a dataset (``data.dataset: {type: jsonl, train: ..., dev: ..., test: ...}``).

Each split is a JSON Lines file, one post per line::

    {"id": "17", "text": "what a day", "label": "positive", "image": "img/17.jpg", "text_translation": "..."}

``text`` and ``label`` are required. ``label`` is a class name, or an index into ``labels``; ``labels`` (the spec
field) fixes the class order, and without it the classes are the train split's label names, sorted. ``id`` defaults
to ``<split>-<line number>``. ``image`` (needed with ``images: true``) is a path relative to the JSONL file's folder,
as in ``clmlf predict --jsonl``. ``aspect`` (all lines or none) makes an aspect dataset (``data.formatter: aspect``).
``text_translation`` is the back-translation DBCL contrasts the text with (checked by ``translation_check`` as for the
built-in datasets). Every malformed line is reported at once, by file and line number; no post may be in two splits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from clmlf.data.errors import DataError, problems_error
from clmlf.data.files import read_text
from clmlf.data.readers import DatasetLayout, DatasetOptions, check_disjoint
from clmlf.data.samples import SPLITS, DatasetSplits, Sample, SplitName
from clmlf.data.translations import CHECK_DESCRIPTION, MIN_OVERLAP_DESCRIPTION, TranslationCheck, attach_translations

FIELDS = ("id", "text", "label", "image", "aspect", "text_translation")
FIX_HINT = ('Each line must be a JSON object with "text" (string) and "label" (class name or index), and may have "id", '
            '"image" (path relative to this file), "aspect" and "text_translation" (strings).')


class JsonlDatasetSpec(DatasetOptions):
    """Three JSONL files (paths relative to ``root`` when given, else to the working directory)."""

    type: Literal["jsonl"] = "jsonl"
    root: str | None = Field(None, description="folder the train/dev/test paths are relative to (data.root overrides "
                             "it); null: the working directory")
    images: bool = Field(False, description="give each post the image its line names (every line then needs one); "
                         "false: text only")
    name: str = Field("jsonl", description="the dataset's name in messages and results")
    train: str = Field(description="JSONL file of the train split")
    dev: str = Field(description="JSONL file of the dev split (checkpoint selection)")
    test: str = Field(description="JSONL file of the test split")
    labels: list[str] | None = Field(None, min_length=2, description="class names in index order (a numeric label "
                                     "indexes it); null: the train split's label names, sorted")
    f1_average: Literal["weighted", "macro"] = Field("weighted", description="how F1 averages over the classes: "
                                                     "weighted (by support) or macro")
    translation_check: TranslationCheck = Field("off", description=CHECK_DESCRIPTION)
    translation_min_overlap: float = Field(0.1, gt=0, le=1, description=MIN_OVERLAP_DESCRIPTION)

    @classmethod
    def example(cls) -> dict[str, Any]:
        """The files :func:`clmlf.testing.write_posts` writes (``root`` is the caller's: the folder it wrote to)."""
        return {**super().example(), "train": "train.jsonl", "dev": "dev.jsonl", "test": "test.jsonl", "images": True}

    @model_validator(mode="after")
    def _check_labels(self) -> JsonlDatasetSpec:
        if self.labels is not None and len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels: {self.labels} names a class twice; list each class once, in index order")
        return self


def jsonl_dataset(
    train: str | Path,
    dev: str | Path,
    test: str | Path,
    root: str | Path | None = None,
    name: str = "jsonl",
    labels: list[str] | None = None,
    images: bool = False,
    f1_average: Literal["weighted", "macro"] = "weighted",
    max_train: int | None = None,
    max_eval: int | None = None,
    translation_check: TranslationCheck = "off",
    translation_min_overlap: float = 0.1,
) -> DatasetSplits:
    """Read the three JSONL splits (see the module docstring); ``images`` requires an ``image`` on every line."""
    paths = {split: Path(root or ".") / file for split, file in zip(SPLITS, (train, dev, test))}
    read = {split: read_jsonl(path) for split, path in paths.items()}
    rows = {split: found for split, (found, _) in read.items()}
    problems = {paths[split]: found for split, (_, found) in read.items()}
    if labels is None and not rows["train"]:  # no class names to check the labels against
        raise dataset_problems(problems)
    label_names = tuple(labels) if labels is not None else train_label_names(paths["train"], rows["train"])
    translations: dict[str, str] = {}
    posts = {}
    for split, path in paths.items():
        posts[split], wrong = read_posts(split, path, rows[split], label_names, images, translations)
        problems[path] += wrong
    if any(problems.values()):
        raise dataset_problems(problems)
    parts = {split: [sample for _, sample in numbered] for split, numbered in posts.items()}
    layout = DatasetLayout(name, "", "jsonl", {split: str(path) for split, path in paths.items()}, label_names, f1_average)
    check_disjoint(layout, Path(), parts, {split: [f"line {number}" for number, _ in numbered] for split, numbered in posts.items()})
    check_aspects(paths, parts)
    if translations:
        parts = attach_translations(name, parts, translations, translation_check, translation_min_overlap)
    return DatasetSplits(name=name, label_names=label_names, has_images=images, metric=f1_average, **parts).subset(max_train, max_eval)


def dataset_problems(problems: dict[Path, list[str]]) -> DataError:
    """One error listing the problems of every split file at once (by file and line), then how lines should look."""
    listed = [str(problems_error(path, found, "")).rstrip() for path, found in problems.items() if found]
    return DataError("\n".join(listed) + "\n" + FIX_HINT)


def read_jsonl(path: Path) -> tuple[list[tuple[int, Any]], list[str]]:
    """``(line number, parsed JSON)`` of every non-blank line, and the file's problems: a line that is not JSON, a
    missing or empty file."""
    if not path.is_file():
        return [], ["no such file; data.dataset.train / dev / test name JSONL files (relative to data.dataset.root when "
                    "it is set, else to the working directory)"]
    rows, problems = [], []
    for number, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as error:
            problems.append(f"line {number}: not JSON ({error.msg} at column {error.colno})")
    if not rows and not problems:
        problems.append("no posts (the file is empty); every split needs posts, one JSON object per line")
    return rows, problems


def train_label_names(path: Path, rows: list[tuple[int, Any]]) -> tuple[str, ...]:
    """The sorted class names of the train split (when the spec gives no ``labels``)."""
    names = {row["label"] for _, row in rows if isinstance(row, dict) and isinstance(row.get("label"), str)}
    indices = [number for number, row in rows if isinstance(row, dict) and isinstance(row.get("label"), int)]
    if indices:
        raise DataError(f"{path}: line {indices[0]} gives its label as an index, but data.dataset.labels is not set: list "
                        "the class names in index order there (labels: [negative, neutral, positive]), or write names")
    if len(names) < 2:
        raise DataError(f"{path}: the train split names {len(names)} class(es) ({sorted(names)}); a classifier needs at "
                        "least two: add posts of the other classes, or list them in data.dataset.labels")
    return tuple(sorted(names))


def read_posts(split: SplitName, path: Path, rows: list[tuple[int, Any]], label_names: tuple[str, ...], images: bool,
               translations: dict[str, str]) -> tuple[list[tuple[int, Sample]], list[str]]:
    """``(line number, sample)`` of the good posts of one split and a problem per bad one; collects back-translations
    into ``translations`` (by id)."""
    samples, problems, first_seen = [], [], {}
    for number, row in rows:
        where = f"line {number}"
        if not isinstance(row, dict):
            problems.append(f"{where}: expected an object, got {type(row).__name__}")
            continue
        wrong = field_problems(row)
        label = label_index(row.get("label"), label_names, wrong)
        sample_id = str(row.get("id", f"{split}-{number}"))
        if sample_id in first_seen:
            wrong.append(f"duplicate id {sample_id!r} (first at {first_seen[sample_id]})")
        first_seen.setdefault(sample_id, where)
        if images and not row.get("image"):
            wrong.append("no field 'image' (data.dataset.images is true: every post needs an image path)")
        if wrong:
            problems.append(f"{where}: {'; '.join(wrong)}")
            continue
        if row.get("text_translation"):
            translations[sample_id] = row["text_translation"]
        image = path.parent / row["image"] if images else None
        samples.append((number, Sample(id=sample_id, text=row["text"], label=label, aspect=row.get("aspect"), image_path=image)))
    return samples, problems


def field_problems(row: dict) -> list[str]:
    """What is wrong with the fields of one post (a JSON object), other than its label: unknown fields, a missing
    ``text``, values of the wrong type (``clmlf predict --jsonl`` checks its lines the same way)."""
    wrong = [f"unknown field {key!r}" for key in row if key not in FIELDS]
    wrong += [f"field {key!r}: expected a string, got {row[key]!r}" for key in ("text", "image", "aspect", "text_translation")
              if key in row and not (isinstance(row[key], str) or (key != "text" and row[key] is None))]
    wrong += [] if "text" in row else ["no field 'text'"]
    post_id = row.get("id", "-")
    if isinstance(post_id, bool) or not isinstance(post_id, (str, int)) or not str(post_id).strip():
        wrong.append(f"field 'id': expected a non-empty string, got {post_id!r}")
    return wrong


def label_index(value: Any, label_names: tuple[str, ...], wrong: list[str]) -> int:
    """The class index of a ``label`` value (a name in ``label_names`` or an index into it); -1 after recording why not."""
    if isinstance(value, str) and value in label_names:
        return label_names.index(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(label_names):
        return value
    if value is None:
        wrong.append("no field 'label'")
    else:
        wrong.append(f"field 'label': {value!r} is not one of the classes {list(label_names)} (names, or indices 0 to "
                     f"{len(label_names) - 1}); fix the line or add the class to data.dataset.labels")
    return -1


def check_aspects(paths: dict[SplitName, Path], parts: dict[SplitName, list[Sample]]) -> None:
    """All posts have an ``aspect`` or none has (one formatter reads them all); the error names a post of the minority."""
    located = [(split, sample) for split, samples in parts.items() for sample in samples]
    having = sum(sample.aspect is not None for _, sample in located)
    if 0 < having < len(located):
        minority_has_aspect = having <= len(located) - having
        split, odd = next((split, s) for split, s in located if (s.aspect is not None) == minority_has_aspect)
        state = f"has an 'aspect', but {len(located) - having}" if minority_has_aspect else f"has no 'aspect', but {having}"
        raise DataError(f"{paths[split]}: post {odd.id!r} {state} of {len(located)} posts "
                        f"{'have none' if minority_has_aspect else 'have one'}: give every post an aspect (an aspect "
                        "dataset) or none")
