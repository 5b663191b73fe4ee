"""Third-party components with only their contracts' required surface (tests/plugin_parts.py: a GRU text encoder
with its own tokenizer, a conv image encoder, a max pooler) train, checkpoint, evaluate and predict on real
MVSA-Single samples; the capabilities they lack fall back as docs/components.md says."""

from __future__ import annotations

import json
import logging

import pytest
import torch

import clmlf
from clmlf.train.commands import evaluate_run, predict_lines
from clmlf.train.trainer import Trainer, train
from conftest import has_real_data
from plugin_parts import plugin_model_spec

pytestmark = [pytest.mark.integration, pytest.mark.skipif(not has_real_data(), reason="real data (../shared/data) absent"),
              pytest.mark.usefixtures("plugin_parts")]


def plugin_experiment(cache_dir) -> clmlf.ExperimentSpec:
    return clmlf.load_spec({
        "name": "plugin_parts",
        "model": plugin_model_spec(),
        "data": {"dataset": {"type": "mvsa_single", "max_train": 16, "max_eval": 8}, "augmentation": {"type": "randaugment"},
                 "image_size": 32, "cache_image_features": True, "cache_text_features": True, "feature_cache_dir": str(cache_dir)},
        "train": {"epochs": 2, "batch_size": 8, "eval_batch_size": 8, "lr": 1e-3, "text_encoder_lr": 5e-3,
                  "text_freeze_epochs": 1, "seed": 7, "device": "cpu"},
    })


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


class Messages(logging.Handler):
    """Collects the warnings of the ``clmlf`` logger (a module-scoped run cannot use ``caplog``)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def plugin_run(plugin_parts, tmp_path_factory):
    """Train the plugin model for 2 epochs (text frozen in the first), recording the text encoder's and the fusion's
    weights before and after each epoch, and the optimizer's groups."""
    root = tmp_path_factory.mktemp("plugin_run")
    record = {"text": [], "fusion": [], "groups": None}
    train_epoch = Trainer.train_epoch

    def recording(trainer, epoch):
        if record["groups"] is None:
            record["groups"] = {group["name"]: (group["lr"], {id(p) for p in group["params"]}) for group in trainer.optimizer.param_groups}
            record["text_ids"] = {id(p) for p in trainer.model.text_encoder.parameters()}
            record["text"].append(snapshot(trainer.model.text_encoder))
            record["fusion"].append(snapshot(trainer.model.fusion))
        terms = train_epoch(trainer, epoch)
        record["text"].append(snapshot(trainer.model.text_encoder))
        record["fusion"].append(snapshot(trainer.model.fusion))
        return terms

    messages, logger = Messages(), logging.getLogger("clmlf")
    logger.addHandler(messages)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Trainer, "train_epoch", recording)
            metrics = train(plugin_experiment(root / "cache"), root / "run", progress=False)
    finally:
        logger.removeHandler(messages)
    return {"root": root, "run": root / "run", "metrics": metrics, "warnings": messages.lines, **record}


def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> set[str]:
    return {name for name in before if not torch.equal(before[name], after[name])}


def test_the_whole_text_encoder_is_the_text_group_and_the_frozen_stage(plugin_run):
    text_groups = {name: lr for name, (lr, _) in plugin_run["groups"].items() if name.startswith("text/")}
    assert set(text_groups.values()) == {5e-3}
    assert set().union(*(ids for name, (_, ids) in plugin_run["groups"].items() if name.startswith("text/"))) == plugin_run["text_ids"]
    before, after_first, after_second = plugin_run["text"]
    assert changed(before, after_first) == set()  # epoch 1: the GRU and its embeddings are frozen
    assert changed(after_first, after_second) == set(before)  # epoch 2: every one of them trains
    assert changed(*plugin_run["fusion"][:2]) == set(plugin_run["fusion"][0])  # the rest trained in epoch 1


def test_caches_the_encoders_cannot_give_are_one_warning_each(plugin_run):
    cache_lines = [line for line in plugin_run["warnings"] if "nothing is cached" in line]
    assert cache_lines == [
        "data.cache_image_features: image_encoder 'test_conv' (ConvImageEncoder) has no features/tokens/frozen, so nothing "
        "is cached: training goes on without the cache (docs/components.md#image_encoder)",
        "data.cache_text_features: text_encoder 'test_gru' (GRUTextEncoder) has no features/tokens, so nothing is cached: "
        "training goes on without the cache (docs/components.md#text_encoder)",
    ]
    assert not (plugin_run["root"] / "cache").exists()
    metrics = plugin_run["metrics"]
    assert len(metrics["epochs"]) == 2 and metrics["samples"] == {"train": 16, "dev": 8, "test": 8}
    assert {"sc", "lbcl", "dbcl"} <= set(metrics["epochs"][1]["train"]) and 0 <= metrics["test"]["accuracy"] <= 1


def test_the_checkpoint_loads_evaluates_and_predicts(plugin_run):
    model = clmlf.CLMLF.from_pretrained(plugin_run["run"] / "checkpoint")
    assert type(model.text_encoder).__name__ == "GRUTextEncoder" and type(model.pooler).__name__ == "MaxPooler"
    evaluated = evaluate_run(str(plugin_run["run"]), "test", [])
    assert evaluated["samples"] == 8 and evaluated["accuracy"] == pytest.approx(plugin_run["metrics"]["test"]["accuracy"])
    sample = plugin_experiment(plugin_run["root"] / "cache").data.dataset.build().test[0]
    predicted = json.loads(next(predict_lines(str(plugin_run["run"]), sample.text, str(sample.image_path), None, None)))
    recorded = next(json.loads(line) for line in (plugin_run["run"] / "predictions_test.jsonl").read_text().splitlines()
                    if json.loads(line)["id"] == sample.id)
    assert predicted["label"] == recorded["prediction"]
    assert list(predicted["probabilities"].values()) == pytest.approx(recorded["probabilities"], abs=1e-4)


def test_a_text_encoder_without_tokenizer_stops_training_with_one_line(tmp_path, capsys):
    from clmlf.cli import main

    config = tmp_path / "no_tokenizer.json"
    spec = plugin_experiment(tmp_path / "cache").model_dump(mode="json")
    spec["model"]["text_encoder"] = {"type": "test_no_tokenizer"}
    config.write_text(json.dumps(spec))
    assert main(["train", str(config), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {config}: 1 problem\n  - model.text_encoder: ")  # caught before training starts
    assert "text_encoder 'test_no_tokenizer' (NoTokenizerEncoder from plugin_parts): lacks tokenizer" in error
    assert error.endswith("docs/components.md#text_encoder") and error.count("\n") == 1


def test_visualize_without_word_pieces_skips_the_maps_with_one_warning(plugin_run, caplog):
    from clmlf.experiments.visualize import visualize

    with caplog.at_level(logging.WARNING, logger="clmlf"):
        written = visualize(plugin_run["run"], n=1, out=plugin_run["root"] / "figures", progress=False)
    assert [path.name for path in written] == ["tsne.png"] and written[0].is_file()
    assert [record.getMessage() for record in caplog.records if "attention" in record.getMessage()] == [
        "no attention maps: the text encoder's tokenizer has no convert_ids_to_tokens / all_special_tokens, so its tokens "
        "cannot be shown as words (docs/components.md#text_encoder)"]
