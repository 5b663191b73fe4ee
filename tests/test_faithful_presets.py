"""The ``*_faithful.yaml`` presets: the paper preset's sizes plus every option and the schedule of the reference code.

Read as YAML here (their ``losses`` list form is checked by ``test_every_preset_validates``)."""

import pytest
import yaml

from conftest import REPO

PRESETS = {"mvsa_single": 32, "mvsa_multiple": 64, "hfm": 128}  # the reference scripts' batch sizes


def read(name: str) -> dict:
    return yaml.safe_load((REPO / "configs" / f"{name}.yaml").read_text())


@pytest.mark.parametrize("dataset", PRESETS)
def test_faithful_preset_keeps_the_paper_sizes_and_sets_every_faithful_option(dataset):
    faithful, paper = read(f"{dataset}_faithful"), read(dataset)
    model = faithful["model"]
    for part in ("image_transformer", "fusion"):
        assert {key: model[part][key] for key in ("num_layers", "num_heads", "ffn_dim")} == \
            {key: paper["model"][part][key] for key in ("num_layers", "num_heads", "ffn_dim")}
        assert model[part]["dropout_layout"] == "bert" and model[part]["attention_dropout"] == model[part]["dropout"] == 0.1
    assert (model["d_model"], model["num_classes"]) == (paper["model"]["d_model"], paper["model"]["num_classes"])
    assert model["text_encoder"]["model_name"] == "bert-base-uncased" and model["image_encoder"]["depth"] == 50
    image = model["image_encoder"]
    assert (image["token_layout"], image["global_token"], image["bn_eval_when_frozen"]) == ("legacy_view", True, False)
    assert model["pooler"] == {"type": "attention", "output_projection": False}
    assert faithful["data"]["dataset"]["type"] == dataset
    train = faithful["train"]
    assert (train["epochs"], train["text_freeze_epochs"], train["lr"], train["batch_size"]) == (50, 20, 2e-5, PRESETS[dataset])
    assert (train["schedule"], train["decay_norm_and_bias"], train["bf16"]) == ("constant", True, False)
    variants = {term["type"]: term.get("variant") for term in faithful["losses"]}
    assert variants == {"cross_entropy": None, "lbcl": "clmlf", "dbcl": "clmlf"}


@pytest.mark.integration
@pytest.mark.parametrize("dataset", PRESETS)
def test_faithful_preset_trains_on_a_tiny_subset(dataset, tmp_path):
    """Every faithful option of the preset, at tiny sizes (random weights, MVSA-Single's images), trains through
    both stages of its schedule and writes a loadable run."""
    from conftest import has_real_data

    if not has_real_data():
        pytest.skip("real data (../shared/data) absent")
    import json

    import clmlf
    from clmlf.cli import main
    from clmlf.testing.tiny import TINY_MODEL

    config = read(f"{dataset}_faithful")
    model = config["model"]
    model.update(d_model=32, num_classes=3, text_encoder={**TINY_MODEL["text_encoder"], "projection": "linear_gelu"})
    model["image_encoder"].update(pretrained=False)
    for part in ("image_transformer", "fusion"):
        model[part].update(num_heads=2, ffn_dim=64)
    config["data"] = {**config["data"], "dataset": {"type": "mvsa_single", "max_train": 24, "max_eval": 16}, "image_size": 64}
    config["train"].update(epochs=2, text_freeze_epochs=1, batch_size=8)
    path = tmp_path / f"{dataset}_faithful_tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", str(path), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [epoch["epoch"] for epoch in metrics["epochs"]] == [1, 2] and 0 <= metrics["test"]["accuracy"] <= 1
    assert all(epoch["train"]["lbcl"] > 0 and epoch["train"]["dbcl"] > 0 for epoch in metrics["epochs"])
    reloaded = clmlf.CLMLF.from_pretrained(tmp_path / "run" / "checkpoint")
    assert reloaded.spec.fusion.dropout_layout == "bert" and reloaded.spec.image_encoder.token_layout == "legacy_view"
