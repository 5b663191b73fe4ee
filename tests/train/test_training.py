"""End to end on a 64-sample subset of real MVSA-Single: train, evaluate, predict, resume (skipped without data)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch
from PIL import Image

import clmlf
from clmlf.cli import main
from clmlf.data.root import locate_data_root
from clmlf.train.run_dir import RunDir
from clmlf.train.trainer import Trainer, TrainingForward, train
from conftest import TINY_CONFIG


def has_data() -> bool:
    try:
        locate_data_root()
        return True
    except Exception:
        return False


pytestmark = [pytest.mark.integration, pytest.mark.skipif(not has_data(), reason="real data (../shared/data) absent")]

FAST = ["data.dataset.max_train=32", "data.dataset.max_eval=24", "train.batch_size=8", "train.epochs=3"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", str(TINY_CONFIG), "--out", str(out), "--no-progress", *[f"--set={o}" for o in FAST]]) == 0
    return out


def test_run_directory_contents(run_dir):
    for name in ("config.json", "metrics.json", "curves.png", "confusion_test.png", "predictions_test.jsonl",
                 "checkpoint/config.json", "checkpoint/model.safetensors", "state/trainer.pt"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["epochs"]) == 3 and 1 <= metrics["best_epoch"] <= 3
    assert set(metrics["test"]) >= {"accuracy", "f1", "cross_entropy"} and 0 <= metrics["test"]["accuracy"] <= 1
    assert metrics["samples"] == {"train": 32, "dev": 24, "test": 24}
    assert {"sc", "lbcl", "dbcl", "loss"} <= set(metrics["epochs"][0]["train"])
    assert clmlf.CLMLF.from_pretrained(run_dir / "checkpoint") is not None


def test_checkpoint_card_lists_the_test_metrics(run_dir):
    from huggingface_hub import ModelCard

    card = ModelCard.load(run_dir / "checkpoint" / "README.md").data
    test = json.loads((run_dir / "metrics.json").read_text())["test"]
    assert card.library_name == "clmlf" and card.datasets == ["MVSA-Single"]
    scores = {(result.metric_type, result.metric_config): result.metric_value for result in card.eval_results}
    assert scores[("accuracy", None)] == round(test["accuracy"], 4) and scores[("f1", "weighted")] == round(test["weighted_f1"], 4)


def test_evaluate_reproduces_the_test_metrics(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--split", "test"]) == 0
    printed = json.loads(capsys.readouterr().out)
    recorded = json.loads((run_dir / "metrics.json").read_text())["test"]
    assert printed["accuracy"] == pytest.approx(recorded["accuracy"]) and printed["f1"] == pytest.approx(recorded["f1"])


def odd_images(folder):
    """Odd but valid images: CMYK, grayscale, palette, RGBA, 1x1."""
    paths = {}
    for name, image, suffix in [
        ("cmyk", Image.new("CMYK", (40, 30), (10, 200, 30, 0)), "jpg"),
        ("gray", Image.new("L", (50, 50), 128), "png"),
        ("palette", Image.new("P", (20, 60), 3), "png"),
        ("alpha", Image.new("RGBA", (33, 33), (255, 0, 0, 90)), "png"),
        ("tiny", Image.new("RGB", (1, 1), (0, 255, 0)), "png"),
    ]:
        paths[name] = folder / f"{name}.{suffix}"
        image.save(paths[name])
    return paths


def test_predict_odd_images_and_batch_mode(run_dir, tmp_path, capsys):
    paths = odd_images(tmp_path)
    for path in paths.values():
        assert main(["predict", str(run_dir), "--text", "so happy today", "--image", str(path)]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["label"] in ("positive", "neutral", "negative")
        assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    batch = tmp_path / "posts.jsonl"
    batch.write_text("".join(json.dumps({"id": name, "text": "meh", "image": str(p)}) + "\n" for name, p in paths.items()))
    assert main(["predict", str(run_dir), "--jsonl", str(batch)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [json.loads(line)["id"] for line in lines] == list(paths)


def test_resume_cannot_go_below_the_epochs_trained(run_dir):
    spec = clmlf.load_spec(TINY_CONFIG, [*FAST, "train.epochs=2"])
    with pytest.raises(ValueError, match="has trained 3 epochs already"):
        train(spec, run_dir, resume=True, progress=False)
    assert json.loads((run_dir / "config.json").read_text())["train"]["epochs"] == 3, "nothing rewritten"


def test_predict_refuses_an_aspect_for_a_sentence_model_and_overwriting_the_run(run_dir, tmp_path, capsys):
    image = odd_images(tmp_path)["tiny"]
    assert main(["predict", str(run_dir), "--text", "x", "--image", str(image), "--aspect", "food"]) == 2
    assert "trained without aspects" in capsys.readouterr().err
    assert main(["train", str(TINY_CONFIG), "--out", str(run_dir), "--no-progress"]) == 2
    assert "already holds a run" in capsys.readouterr().err and (run_dir / "checkpoint").is_dir()


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\xff\xd8\xff\xe0" + b"\0" * 20])
def test_broken_image_gets_one_line_error_with_path(run_dir, tmp_path, capsys, content):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(content)
    assert main(["predict", str(run_dir), "--text", "x", "--image", str(broken)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(broken) in err and "Traceback" not in err


@pytest.mark.parametrize("ema", [None, 0.9])
def test_resume_after_interrupt_reaches_identical_metrics(tmp_path, monkeypatch, ema):
    spec = clmlf.load_spec(TINY_CONFIG, [*FAST, f"train.ema_decay={'null' if ema is None else ema}"])
    reference = train(spec, tmp_path / "straight", progress=False)

    original = Trainer.train_epoch

    def interrupted(self, epoch):
        if epoch == 1:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(Trainer, "train_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(spec, tmp_path / "resumed", progress=False)
    interrupted_metrics = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert interrupted_metrics["best_epoch"] == 1
    monkeypatch.setattr(Trainer, "train_epoch", original)
    resumed = train(spec, tmp_path / "resumed", resume=True, progress=False)
    resumed_epochs = sum(epoch["seconds"] for epoch in resumed["epochs"][interrupted_metrics["best_epoch"]:])
    assert resumed["wall_s"] >= interrupted_metrics["wall_s"] + resumed_epochs, "the wall time counts both sessions"
    assert [e["dev"] for e in resumed["epochs"]] == [e["dev"] for e in reference["epochs"]]
    assert resumed["test"] == reference["test"]
    torch.testing.assert_close(
        clmlf.CLMLF.from_pretrained(tmp_path / "resumed" / "checkpoint").state_dict(),
        clmlf.CLMLF.from_pretrained(tmp_path / "straight" / "checkpoint").state_dict(), rtol=0, atol=0,
    )


def test_resume_after_a_crash_between_the_state_and_the_checkpoint(tmp_path, monkeypatch):
    """Killed after epoch 1's state was saved but before its model became ``checkpoint/``: resuming puts that model
    there and the run ends as an uninterrupted one (one epoch, so no later epoch writes a checkpoint of its own)."""
    spec = clmlf.load_spec(TINY_CONFIG, [*FAST, "train.epochs=1"])
    reference = train(spec, tmp_path / "straight", progress=False)

    def killed(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(RunDir, "commit_checkpoint", killed)
    with pytest.raises(KeyboardInterrupt):
        train(spec, tmp_path / "resumed", progress=False)
    monkeypatch.undo()
    assert (tmp_path / "resumed" / ".checkpoint-next").is_dir() and not (tmp_path / "resumed" / "checkpoint").exists()
    resumed = train(spec, tmp_path / "resumed", resume=True, progress=False)
    assert (resumed["best_epoch"], resumed["test"]) == (reference["best_epoch"], reference["test"])
    torch.testing.assert_close(
        clmlf.CLMLF.from_pretrained(tmp_path / "resumed" / "checkpoint").state_dict(),
        clmlf.CLMLF.from_pretrained(tmp_path / "straight" / "checkpoint").state_dict(), rtol=0, atol=0,
    )
    selection = json.loads((tmp_path / "resumed" / "checkpoint" / "selection.json").read_text())
    assert selection == {"epoch": reference["best_epoch"], "dev": reference["best_dev"]}


def test_weight_average_is_what_gets_selected_and_saved(tmp_path):
    """``train.ema_decay``: the averaged weights, not the last ones, are what gets evaluated and saved."""
    spec = clmlf.load_spec(TINY_CONFIG, [*FAST, "train.epochs=1", "train.ema_decay=0.5"])
    trainer = Trainer.from_spec(spec, RunDir(tmp_path / "run"), progress=False)
    initial = {name: p.detach().clone() for name, p in trainer.ema.module.named_parameters()}
    trainer.fit()
    averaged = dict(trainer.ema.module.named_parameters())
    raw = dict(trainer.model.named_parameters())
    moved = [name for name in raw if not torch.equal(raw[name], initial[name])]
    assert moved and all(not torch.equal(averaged[name], raw[name]) for name in moved)
    saved = clmlf.CLMLF.from_pretrained(tmp_path / "run" / "checkpoint").state_dict()
    torch.testing.assert_close(saved, trainer.ema.module.state_dict(), rtol=0, atol=0)


@pytest.mark.parametrize("select_metric, best_epoch", [("cross_entropy", 3), ("accuracy", 2), ("f1", 1)])
def test_dev_selection_reads_the_chosen_metric(tmp_path, monkeypatch, select_metric, best_epoch):
    """``train.select_metric``: accuracy and F1 keep their highest epoch, ``cross_entropy`` its lowest."""
    spec = clmlf.load_spec(TINY_CONFIG, [*FAST, f"train.select_metric={select_metric}"])
    trainer = Trainer.from_spec(spec, RunDir(tmp_path / "run"), progress=False)
    dev = iter([{"accuracy": 0.5, "f1": 0.6, "cross_entropy": 0.9},
                {"accuracy": 0.7, "f1": 0.5, "cross_entropy": 1.2},
                {"accuracy": 0.4, "f1": 0.4, "cross_entropy": 0.8}])
    evaluate_split = trainer.evaluate_split
    monkeypatch.setattr(trainer, "evaluate_split",
                        lambda split: replace(evaluate_split(split), metrics=next(dev)) if split == "dev" else evaluate_split(split))
    metrics = trainer.fit()
    assert metrics["select_metric"] == select_metric and metrics["best_epoch"] == best_epoch


def test_fine_tuning_above_frozen_layers_trains_on_their_cached_states(tmp_path):
    """``freeze_layers: 1`` + ``cache_text_features``: the frozen epoch reads final states, the fine-tuning epoch the
    states after layer 1 (``text_depth``); layer 1 learns, the embeddings and layer 0 stay as they were."""
    spec = clmlf.load_spec(TINY_CONFIG, [*FAST, "train.epochs=2", "train.text_freeze_epochs=1", "data.cache_text_features=true",
                                         "model.text_encoder.freeze_layers=1", f"data.feature_cache_dir={tmp_path / 'cache'}"])
    trainer = Trainer.from_spec(spec, RunDir(tmp_path / "run"), progress=False)
    assert trainer.inputs.train_loader(True) is trainer.inputs.cached_text_train
    assert trainer.inputs.train_loader(False) is trainer.inputs.prefix_text_train
    batch = next(iter(trainer.inputs.prefix_text_train))
    assert batch["text_depth"] == 1 and batch["text_features"].shape[-1] == 32
    assert "text_depth" not in next(iter(trainer.inputs.cached_text_train))
    backbone = trainer.model.text_encoder.backbone
    changed = []
    for epoch in range(2):
        before = {name: p.detach().clone() for name, p in backbone.named_parameters()}
        trainer.train_epoch(epoch)
        changed.append({name for name, p in backbone.named_parameters() if not torch.equal(before[name], p)})
    assert not changed[0], "the text backbone is frozen in the first epoch"
    assert changed[1] and all(name.startswith("encoder.layer.1.") for name in changed[1]), sorted(changed[1])[:5]
    assert len(list((tmp_path / "cache").glob("text-*.safetensors"))) == 4  # 2 depths x (text, back-translation)


@pytest.mark.parametrize("bf16_cpu", [False, True])
def test_bf16_cpu_autocasts_the_training_step_on_cached_fp16_states(tmp_path, bf16_cpu):
    """``train.bf16_cpu``: the fusion layers compute in bf16 on a CPU (fp32 without it), also when both views are
    stacked into one batch from fp16 cached text states and image maps; the weights stay fp32, the losses finite."""
    spec = clmlf.load_spec(TINY_CONFIG, [*FAST, "train.epochs=1", "train.text_freeze_epochs=1", "data.cache_text_features=true",
                                         "data.cache_image_features=true", "model.image_encoder.freeze=true",
                                         f"train.bf16_cpu={str(bf16_cpu).lower()}", f"data.feature_cache_dir={tmp_path / 'cache'}"])
    trainer = Trainer.from_spec(spec, RunDir(tmp_path / "run"), progress=False)
    batch = next(iter(trainer.inputs.cached_text_train))
    assert batch["text_features"].dtype == batch["image_features"].dtype == torch.float16
    dtypes = []
    trainer.model.fusion.register_forward_hook(lambda module, args, output: dtypes.append(output.hidden.dtype))
    terms = trainer.train_epoch(0)
    assert set(dtypes) == {torch.bfloat16 if bf16_cpu else torch.float32}
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    assert all(math.isfinite(value) and value > 0 for value in terms.values()), terms


def test_dataset_info_cli(capsys):
    assert main(["dataset-info", "mvsa_single"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "train": 3611, "dev": 450, "test": 450, "classes": {"positive": 2147, "neutral": 376, "negative": 1088}}


def test_missing_data_root_is_one_clear_message(tmp_path, capsys):
    assert main(["dataset-info", "mvsa_single", "--root", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "CLMLF_DATA_DIR" in err and "Traceback" not in err


def test_cached_text_collation_matches_tokenised_states(tiny_spec):
    """Cached, trimmed and re-padded text states give the same model outputs as tokenising on the fly."""
    from clmlf.train.inputs import Collator, pad_states
    from clmlf.train.text_cache import encode_texts
    from clmlf.data.formatters import SentenceFormatter

    model = clmlf.build_model(tiny_spec).eval()
    collator = Collator(model.text_encoder.tokenizer(), SentenceFormatter(), 48)
    texts = ["a short one", "a somewhat longer text about a sunny day at the beach", "ok"]
    states = encode_texts(model.text_encoder, collator, texts, [None] * 3, torch.device("cpu"), batch_size=2)
    assert [s.shape[0] for s in states] == [5, 13, 3]
    padded = pad_states(states)
    tokenised = collator.text(texts, [None] * 3)
    assert torch.equal(padded["attention_mask"], tokenised["attention_mask"])
    with torch.no_grad():
        direct = model.text_encoder(tokenised["input_ids"], tokenised["attention_mask"]).hidden
        cached = model.text_encoder.tokens(padded["text_features"], padded["attention_mask"]).hidden
    mask = padded["attention_mask"].bool()
    torch.testing.assert_close(cached[mask], direct[mask], atol=2e-3, rtol=2e-3)  # fp16 storage


def test_compiled_training_computes_the_same_gradients(tmp_path):
    """``train.compile``: the model's heavy parts are compiled (here with the ``aot_eager`` backend: the traced
    forward and backward graphs, run op by op); a training step's loss terms and gradients equal the eager model's,
    and a compiled epoch trains."""
    overrides = [*FAST, "train.epochs=1", "train.text_freeze_epochs=0"]
    eager = Trainer.from_spec(clmlf.load_spec(TINY_CONFIG, overrides), RunDir(tmp_path / "eager"), progress=False)
    torch._dynamo.reset()
    spec = clmlf.load_spec(TINY_CONFIG, [*overrides, "train.compile=true"])
    spec = spec.model_copy(update={"train": spec.train.model_copy(update={"compile_options": {"backend": "aot_eager"}})})
    compiled = Trainer.from_spec(spec, RunDir(tmp_path / "compiled"), progress=False)
    assert compiled.model.fusion._compiled_call_impl is not None and eager.model.fusion._compiled_call_impl is None
    batch = next(iter(eager.inputs.loaders["train"]))
    grads = []
    for trainer in (eager, compiled):
        trainer.model.train()
        torch.manual_seed(0)  # the same dropout masks
        loss = trainer.step_loss(batch, TrainingForward(trainer.model))
        loss.total.backward()
        grads.append({name: p.grad for name, p in trainer.model.named_parameters() if p.grad is not None})
        assert set(loss.terms) == {"sc", "lbcl", "dbcl"}
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-6)
    assert sum(g.abs().sum() for g in grads[0].values()) > 0
    compiled.optimizer.zero_grad()
    terms = compiled.train_epoch(0)
    assert all(math.isfinite(value) and value > 0 for value in terms.values()), terms


def test_no_progress_silences_the_cache_builders_too(tmp_path, capsys):
    """``progress=False`` (``--no-progress``, and every rank but 0) also turns off the bars of the text and image
    caches built before training, which a log file would otherwise fill with."""
    overrides = [*FAST, "train.text_freeze_epochs=1", "data.cache_text_features=true", "data.cache_image_features=true",
                 "model.image_encoder.freeze=true", f"data.feature_cache_dir={tmp_path / 'cache'}"]
    Trainer.from_spec(clmlf.load_spec(TINY_CONFIG, overrides), RunDir(tmp_path / "quiet"), progress=False)
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) >= 4  # the caches were built
    assert "states" not in capsys.readouterr().err
    Trainer.from_spec(clmlf.load_spec(TINY_CONFIG, [*overrides, f"data.feature_cache_dir={tmp_path / 'cache2'}"]), RunDir(tmp_path / "loud"))
    err = capsys.readouterr().err
    assert "text states" in err and "image features" in err
