import json
import re
import os
from pathlib import Path

import pytest

from clmlf.cli import main
from clmlf.errors import SpecError
from clmlf.train.commands import check_evaluation_overrides, predict_lines
from clmlf.train.predict import Predictor
from conftest import TINY_CONFIG


def test_validate_prints_resolved_spec(capsys):
    assert main(["validate", str(TINY_CONFIG), "--set", "model.fusion.num_layers=4"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["model"]["fusion"]["num_layers"] == 4 and resolved["model"]["pooler"]["d_model"] == 32


def test_validate_reports_every_problem_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY_CONFIG.read_text().replace("type: attention", "type: attn").replace("num_layers: 2", "num_layers: -1"))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "2 problems" in err and "model.pooler.type: unknown pooler 'attn'" in err
    assert "model.fusion.num_layers: input should be greater than or equal to 0" in err and "Traceback" not in err


def test_components_and_schema(capsys):
    assert main(["components", "--kind", "image_encoder"]) == 0
    out = capsys.readouterr().out
    assert "efficientnet_lite0" in out and "torchvision_resnet" in out and "pooler" not in out
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    fusion = schema["$defs"]["ModelSpec"]["properties"]["fusion"]
    referenced = [schema["$defs"][name] for name in re.findall(r"#/\$defs/(\w+)", json.dumps(fusion))]
    assert '"transformer"' in json.dumps([fusion, referenced])  # a `type` it may take, inline or by reference


def test_an_interrupted_training_says_how_to_continue(tmp_path, monkeypatch, capsys):
    import clmlf.train.trainer

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(clmlf.train.trainer, "train", interrupted)
    assert main(["train", str(TINY_CONFIG), "--out", str(tmp_path / "run")]) == 130
    assert "with --resume continues" in capsys.readouterr().err


def test_evaluate_takes_data_and_execution_settings_only():
    check_evaluation_overrides(["data.root=/data", "train.device=cpu", "train.compile_options.mode=default"])
    with pytest.raises(SpecError) as error:
        check_evaluation_overrides(["model.fusion.num_layers=1", "train.lr=1", "data.num_workers=2"])
    assert [line.split(":")[0] for line in error.value.problems] == ["model.fusion.num_layers", "train.lr"]


class FakePredictor(Predictor):
    """Records what the batch mode passes on; refuses the text "bad" like a real model refuses a bad input."""

    def __init__(self, run_dir):
        self.calls, self.batch_sizes = [], []

    def prepare(self, text, image=None, aspect=None):
        if text == "bad":
            raise ValueError("this model needs an image")
        self.calls.append((text, image, aspect))
        return {"text": text}

    def predict_prepared(self, items):
        self.batch_sizes.append(len(items))
        return [{"label": "positive", "probabilities": {"positive": 1.0}} for _ in items]


def test_predict_batch_reports_bad_lines_and_goes_on(tmp_path, monkeypatch, capsys):
    import clmlf.train.predict

    monkeypatch.setattr(clmlf.train.predict, "Predictor", FakePredictor)
    posts = tmp_path / "posts.jsonl"
    lines = [{"text": "a", "image": "img/1.jpg", "id": "x"}, "{broken", [1], {"text": "bad"}, {"text": "b", "image": "/abs/2.jpg"},
             {"text": "c", "image": 3}, {"text": "d", "aspect": "food"}]
    posts.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    assert main(["predict", str(tmp_path), "--jsonl", str(posts)]) == 2
    out, err = capsys.readouterr()
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["x", "5", "7"], "ids are strings, as in datasets"
    problems = err.splitlines()
    assert [line.split(": ")[0] for line in problems[:4]] == [f"{posts}:{n}" for n in (2, 3, 4, 6)]
    assert "not JSON" in problems[0] and '"text" string' in problems[1] and "needs an image" in problems[2]
    assert "4 of 7 posts could not be predicted" in problems[4]


def test_predict_batch_checks_lines_as_the_jsonl_dataset_does(tmp_path, monkeypatch, capsys):
    import clmlf.train.predict

    monkeypatch.setattr(clmlf.train.predict, "Predictor", FakePredictor)
    posts = tmp_path / "posts.jsonl"
    lines = [{"text": "a", "label": "positive", "id": 12}, {"text": "b", "imgae": "1.jpg"}, {"text": "c", "id": True}]
    posts.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert main(["predict", str(tmp_path), "--jsonl", str(posts)]) == 2
    out, err = capsys.readouterr()
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["12"]
    assert err.splitlines()[:2] == [f"{posts}:2: unknown field 'imgae'", f"{posts}:3: field 'id': expected a non-empty string, got True"]


@pytest.mark.parametrize("given", ["folder", "empty", "missing"])
def test_predict_batch_input_that_is_no_posts_file_is_named(tmp_path, monkeypatch, capsys, given):
    import clmlf.train.predict

    monkeypatch.setattr(clmlf.train.predict, "Predictor", FakePredictor)
    path = tmp_path / "posts.jsonl"
    if given == "folder":
        path.mkdir()
    elif given == "empty":
        path.write_text("\n")
    assert main(["predict", str(tmp_path), "--jsonl", str(path)]) == 2
    expected = {"folder": f"--jsonl {path}: a folder; pass a JSONL file", "missing": f"--jsonl {path}: no such file; pass",
                "empty": f"{path}: no posts (the input is empty)"}[given]
    assert capsys.readouterr().err.startswith(f"error: {expected}")


def test_a_fifo_as_an_image_is_refused_without_opening_it(tmp_path):
    from clmlf.data.errors import BadImageError
    from clmlf.data.images import load_image

    fifo = tmp_path / "image.jpg"
    os.mkfifo(fifo)
    with pytest.raises(BadImageError, match="not a regular file"):
        load_image(fifo, "p1")


def test_predict_batch_reads_relative_images_from_the_files_folder(tmp_path, monkeypatch):
    import clmlf.train.predict

    fake = FakePredictor(None)
    monkeypatch.setattr(clmlf.train.predict, "Predictor", lambda run_dir: fake)
    posts = tmp_path / "batch" / "posts.jsonl"
    posts.parent.mkdir()
    posts.write_text(json.dumps({"text": "a", "image": "img/1.jpg"}) + "\n" + json.dumps({"text": "b", "image": "/abs/2.jpg"}) + "\n")
    assert len(list(predict_lines(str(tmp_path), None, None, None, str(posts)))) == 2
    assert [call[1] for call in fake.calls] == [posts.parent / "img/1.jpg", Path("/abs/2.jpg")]


def test_resume_and_overwrite_do_not_combine(tmp_path, capsys):
    assert main(["train", str(TINY_CONFIG), "--out", str(tmp_path), "--resume", "--overwrite"]) == 2
    assert "pass one of them" in capsys.readouterr().err


def test_predict_batch_size_sets_the_posts_per_forward_pass(tmp_path, monkeypatch, capsys):
    import clmlf.train.predict

    fake = FakePredictor(None)
    monkeypatch.setattr(clmlf.train.predict, "Predictor", lambda run_dir: fake)
    posts = tmp_path / "posts.jsonl"
    posts.write_text("".join(json.dumps({"text": text}) + "\n" for text in ["a", "b", "bad", "c", "d", "e"]))
    assert main(["predict", str(tmp_path), "--jsonl", str(posts), "--batch-size", "2"]) == 2
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == ["1", "2", "4", "5", "6"]
    assert fake.batch_sizes == [2, 2, 1]
    assert main(["predict", str(tmp_path), "--jsonl", str(posts), "--batch-size", "0"]) == 2
    assert "--batch-size 0: give at least 1" in capsys.readouterr().err
