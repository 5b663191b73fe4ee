"""Batched prediction (``Predictor.predict_many``, ``clmlf predict --jsonl --batch-size``) gives the results of one
post at a time, in input order, with bad posts reported by line and the others predicted."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from PIL import Image

import clmlf
from clmlf.train.commands import predict_lines
from clmlf.train.predict import Predictor
from clmlf.train.run_dir import RunDir
from conftest import TINY_CONFIG

LABELS = ["positive", "neutral", "negative"]
WORDS = "what a day the food was great terrible boring lovely sunset rain again #happy @friend so sad".split()


@pytest.fixture(scope="module")
def predictor_run(tmp_path_factory):
    """A saved run directory of the tiny random model, and posts of very different lengths with images of their own."""
    root = tmp_path_factory.mktemp("predict")
    spec = clmlf.load_spec(TINY_CONFIG)
    run = RunDir(root / "run")
    run.write_config(spec)
    clmlf.build_model(spec).save_pretrained(run.checkpoint)
    (run.root / "metrics.json").write_text(json.dumps({"label_names": LABELS}))
    rng = random.Random(3)
    (root / "img").mkdir()
    posts = []
    for index in range(11):
        size = (rng.randint(20, 90), rng.randint(20, 90))
        pixels = np.random.default_rng(index).integers(0, 256, (*size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "img" / f"{index}.png")
        text = " ".join(rng.choice(WORDS) for _ in range(rng.choice([1, 3, 12, 40])))  # padding differs a lot per batch
        posts.append({"text": text, "image": str(root / "img" / f"{index}.png")})
    return run.root, posts


def probabilities(predictions: list[dict]) -> np.ndarray:
    return np.array([[prediction["probabilities"][name] for name in LABELS] for prediction in predictions])


def test_batched_predictions_equal_one_at_a_time(predictor_run):
    run, posts = predictor_run
    predictor = Predictor(run, device="cpu")
    one_by_one = [predictor(post["text"], post["image"]) for post in posts]
    expected = probabilities(one_by_one)
    assert expected.std(axis=0).max() > 1e-4, "the posts get different probabilities (a real check, not constants)"
    for batch_size in (1, 4, 32):
        batched = predictor.predict_many(posts, batch_size=batch_size)
        assert [p["label"] for p in batched] == [p["label"] for p in one_by_one]
        np.testing.assert_allclose(probabilities(batched), expected, atol=2e-6)


def test_predict_many_names_the_bad_post(predictor_run):
    run, posts = predictor_run
    predictor = Predictor(run, device="cpu")
    with pytest.raises(ValueError, match=r"posts\[1\]: .*needs an image"):
        predictor.predict_many([posts[0], {"text": "no picture"}])
    with pytest.raises(ValueError, match=r"posts\[0\]: unknown field 'imgae'"):
        predictor.predict_many([{"text": "typo", "imgae": "x.png"}])
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        predictor.predict_many(posts, batch_size=0)


def test_jsonl_batches_keep_order_and_report_bad_lines(predictor_run, tmp_path, capsys):
    run, posts = predictor_run
    lines = [json.dumps(post) for post in posts[:5]]
    lines.insert(2, json.dumps({"text": "gone", "image": "missing.png"}))
    lines.insert(4, "{broken")
    path = tmp_path / "posts.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = []
    with pytest.raises(ValueError, match="2 of 7 posts could not be predicted"):
        out.extend(predict_lines(str(run), None, None, None, str(path), batch_size=2))
    predicted = [json.loads(line) for line in out]
    assert [p["id"] for p in predicted] == ["1", "2", "4", "6", "7"]
    expected = Predictor(run, device="cpu").predict_many(posts[:5], batch_size=1)
    np.testing.assert_allclose(probabilities(predicted), probabilities(expected), atol=2e-6)
    problems = capsys.readouterr().err.splitlines()
    assert problems[0].startswith(f"{path}:3: cannot use image") and problems[1].startswith(f"{path}:5: not JSON")
