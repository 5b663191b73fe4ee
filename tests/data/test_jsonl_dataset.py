"""``data.dataset: {type: jsonl}``: a user's own posts in three JSON Lines files, read, checked and trained on."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from PIL import Image

import clmlf
from clmlf.cli import main
from clmlf.data.errors import DataError
from clmlf.data.jsonl_dataset import FIX_HINT, jsonl_dataset
from clmlf.registry import registry
from clmlf.spec import validate_spec
from clmlf.train.pipeline import build_inputs, build_splits
from clmlf.train.predict import Predictor
from clmlf.train.trainer import train
from conftest import TINY_CONFIG

LABELS = ["negative", "neutral", "positive"]


def write_split(folder, split: str, posts: list) -> str:
    path = folder / f"{split}.jsonl"
    path.write_text("\n".join(post if isinstance(post, str) else json.dumps(post) for post in posts) + "\n")
    return path.name


def posts_with_images(folder, split: str, count: int) -> list[dict]:
    """``count`` posts cycling through the three labels, each with its own small image under ``img/``."""
    (folder / "img").mkdir(exist_ok=True)
    posts = []
    for index in range(count):
        name = f"img/{split}{index}.png"
        Image.new("RGB", (40, 30), (index * 20 % 255, 80, 160)).save(folder / name)
        posts.append({"id": f"{split}{index}", "text": f"post {index} of {split}", "label": LABELS[index % 3],
                      "image": name, "text_translation": f"post number {index} of {split}"})
    return posts


@pytest.fixture
def dataset_dir(tmp_path):
    for split, count in (("train", 12), ("dev", 6), ("test", 6)):
        write_split(tmp_path, split, posts_with_images(tmp_path, split, count))
    return tmp_path


def test_posts_become_samples_with_labels_images_and_translations(dataset_dir):
    splits = jsonl_dataset("train.jsonl", "dev.jsonl", "test.jsonl", root=dataset_dir, images=True, name="mine")
    assert (splits.name, splits.label_names, splits.metric, splits.has_images) == ("mine", tuple(LABELS), "weighted", True)
    assert [len(splits.split(name)) for name in ("train", "dev", "test")] == [12, 6, 6]
    first = splits.train[1]
    assert (first.id, first.text, first.label, first.aspect) == ("train1", "post 1 of train", 1, None)
    assert first.image_path == dataset_dir / "img" / "train1.png" and first.image_path.is_file()
    assert first.text_aug == "post number 1 of train"
    assert splits.info()["classes"] == {"negative": 4, "neutral": 4, "positive": 4}


def test_label_indices_need_the_class_list_which_also_fixes_the_order(tmp_path):
    for split in ("train", "dev", "test"):
        write_split(tmp_path, split, [{"text": "a", "label": 2}, {"text": "b", "label": "happy"}, {"text": "c", "label": 0}])
    splits = jsonl_dataset("train.jsonl", "dev.jsonl", "test.jsonl", root=tmp_path, labels=["sad", "meh", "happy"])
    assert [s.label for s in splits.train] == [2, 2, 0] and [s.id for s in splits.dev] == ["dev-1", "dev-2", "dev-3"]
    with pytest.raises(DataError, match="line 1 gives its label as an index, but data.dataset.labels is not set"):
        jsonl_dataset("train.jsonl", "dev.jsonl", "test.jsonl", root=tmp_path)


def test_every_bad_line_is_reported_at_once_with_its_line_number(tmp_path):
    write_split(tmp_path, "train", [
        {"text": "fine", "label": "positive"},
        {"text": "no label"},
        {"label": "negative", "txt": "typo"},
        {"text": "unknown class", "label": "angry"},
        {"text": 5, "label": "negative", "id": ""},
        ["not", "an", "object"],
    ])
    write_split(tmp_path, "dev", [{"text": "x", "label": "negative"}])
    write_split(tmp_path, "test", [{"text": "x", "label": "negative"}])
    with pytest.raises(DataError) as error:
        jsonl_dataset("train.jsonl", "dev.jsonl", "test.jsonl", root=tmp_path, labels=["negative", "positive"])
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'train.jsonl'}: 5 problems")
    for expected in ("line 2: no field 'label'", "line 3: unknown field 'txt'; no field 'text'",
                     "line 4: field 'label': 'angry' is not one of the classes ['negative', 'positive']",
                     "line 5: field 'text': expected a string, got 5; field 'id': expected a non-empty string, got ''",
                     "line 6: expected an object, got list", 'Each line must be a JSON object with "text"'):
        assert expected in message


def test_broken_json_missing_files_and_empty_splits_are_named(tmp_path):
    write_split(tmp_path, "train", [{"text": "a", "label": "x"}, '{"text": "b", "label": ', {"text": "c", "label": "y"}])
    with pytest.raises(DataError, match=r"train.jsonl: 1 problem\n  - line 2: not JSON.*\n.*dev.jsonl: 1 problem\n  - no such "
                                        r"file; data.dataset.train / dev / test name JSONL files"):
        jsonl_dataset("train.jsonl", "dev.jsonl", "test.jsonl", root=tmp_path)
    write_split(tmp_path, "train", [{"text": "a", "label": "x"}, {"text": "c", "label": "y"}])
    (tmp_path / "dev.jsonl").write_text("\n\n")
    with pytest.raises(DataError, match=r"dev.jsonl: 1 problem\n  - no posts"):
        jsonl_dataset("train.jsonl", "dev.jsonl", "test.jsonl", root=tmp_path)


def test_a_post_in_two_splits_or_twice_in_one_is_refused(dataset_dir):
    train = [json.loads(line) for line in (dataset_dir / "train.jsonl").read_text().splitlines()]
    write_split(dataset_dir, "test", [train[3], {**train[4], "id": "fresh"}])
    with pytest.raises(DataError, match=r"id 'train3' is in train \(.*train.jsonl line 4\) and test \(.*test.jsonl line 1\)"):
        jsonl_dataset("train.jsonl", "dev.jsonl", "test.jsonl", root=dataset_dir)
    write_split(dataset_dir, "test", [train[5], train[5]])
    with pytest.raises(DataError, match=r"line 2: duplicate id 'train5' \(first at line 1\)"):
        jsonl_dataset("train.jsonl", "dev.jsonl", "test.jsonl", root=dataset_dir)


def test_images_must_be_given_and_aspects_all_or_none(dataset_dir):
    write_split(dataset_dir, "dev", [{"text": "no picture", "label": "neutral"}])
    with pytest.raises(DataError, match=r"dev.jsonl: 1 problem\n  - line 1: no field 'image' \(data.dataset.images is true"):
        jsonl_dataset("train.jsonl", "dev.jsonl", "test.jsonl", root=dataset_dir, images=True)
    write_split(dataset_dir, "dev", [{"text": "t", "label": "neutral", "aspect": "food"}, {"text": "u", "label": "neutral"}])
    with pytest.raises(DataError, match=r"dev.jsonl: post 'dev-1' has an 'aspect', but 19 of 20 posts have none"):
        jsonl_dataset("train.jsonl", "dev.jsonl", "test.jsonl", root=dataset_dir)


def test_the_spec_validates_and_builds_through_the_registry(dataset_dir):
    spec = validate_spec(registry().entry("dataset", "jsonl").spec,
                         {"type": "jsonl", "train": "train.jsonl", "dev": "dev.jsonl", "test": "test.jsonl", "f1_average": "macro"},
                         "data.dataset")
    splits = build_splits(spec, str(dataset_dir))
    assert splits.metric == "macro" and not splits.has_images and splits.train[0].image_path is None
    with pytest.raises(clmlf.SpecError, match="labels"):
        clmlf.load_spec(TINY_CONFIG, ["data.dataset={type: jsonl, train: a, dev: b, test: c, labels: [x, x]}"])
    with pytest.raises(clmlf.SpecError, match="train"):
        clmlf.load_spec(TINY_CONFIG, ["data.dataset={type: jsonl, dev: b, test: c}"])


def test_the_tiny_model_trains_on_your_own_posts_with_images(dataset_dir, tmp_path):
    """End to end without the shared data: train, test, predict back from the run directory."""
    spec = clmlf.load_spec(TINY_CONFIG, [f"data.dataset={{type: jsonl, root: {dataset_dir}, train: train.jsonl, dev: dev.jsonl, "
                                         "test: test.jsonl, images: true}", "train.epochs=1", "train.batch_size=4"])
    metrics = train(spec, tmp_path / "run", progress=False)
    assert metrics["dataset"] == "jsonl" and metrics["label_names"] == LABELS and metrics["samples"] == {"train": 12, "dev": 6, "test": 6}
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0 and metrics["train_s"] > 0
    prediction = Predictor(tmp_path / "run")("post 1", dataset_dir / "img" / "test1.png")
    assert set(prediction["probabilities"]) == set(LABELS)


def test_dataset_info_reads_the_dataset_of_a_config_file(dataset_dir, tmp_path, capsys):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["data"]["dataset"] = {"type": "jsonl", "root": str(dataset_dir), "train": "train.jsonl", "dev": "dev.jsonl",
                                 "test": "test.jsonl", "labels": ["positive", "neutral", "negative"]}
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["dataset-info", str(path)]) == 0
    assert json.loads(capsys.readouterr().out) == {"train": 12, "dev": 6, "test": 6,
                                                   "classes": {"positive": 4, "neutral": 4, "negative": 4}}


def test_every_problem_of_every_split_file_is_reported_at_once(dataset_dir):
    with open(dataset_dir / "train.jsonl", "a") as handle:
        handle.write('{"text": "x", "label": \n{"text": "y", "label": "positive", "colour": "red", "image": "img/train0.png"}\n')
    (dataset_dir / "test.jsonl").unlink()
    with pytest.raises(DataError) as error:
        jsonl_dataset("train.jsonl", "dev.jsonl", "test.jsonl", root=dataset_dir, images=True)
    message = str(error.value)
    assert f"{dataset_dir / 'train.jsonl'}: 2 problems\n  - line 13: not JSON" in message
    assert "  - line 14: unknown field 'colour'" in message
    assert f"{dataset_dir / 'test.jsonl'}: 1 problem\n  - no such file" in message
    assert message.endswith(FIX_HINT) and "dev.jsonl" not in message


def test_aspects_the_formatter_ignores_get_one_warning(tmp_path, caplog):
    from clmlf.testing.posts import write_posts

    write_posts(tmp_path, sizes=(6, 3, 3), images=False, aspects=True)
    dataset = f"data.dataset={{type: jsonl, root: '{tmp_path}', train: train.jsonl, dev: dev.jsonl, test: test.jsonl}}"
    spec = clmlf.load_spec(TINY_CONFIG, [dataset, "model.image_encoder=null", "model.image_transformer=null",
                                         "data.augmentation=null", "train.batch_size=4"])
    caplog.set_level("WARNING", logger="clmlf")
    build_inputs(spec, clmlf.build_model(spec), torch.device("cpu"), augmented_train=False, progress=False)
    warnings = [record.getMessage() for record in caplog.records if "aspect" in record.getMessage()]
    assert warnings == ["jsonl: 12 posts have an aspect, which data.formatter (SentenceFormatter) ignores; to read them "
                        "set data.formatter: {type: aspect}"]
