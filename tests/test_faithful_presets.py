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
