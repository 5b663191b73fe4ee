import pytest

import clmlf
from clmlf.spec import ModelSpec, apply_overrides
from conftest import TINY_CONFIG

THREE_MISTAKES = """
model:
  text_encoder: {type: minilmm, pretrained: false}
  image_encoder: {type: timm, model_name: test_efficientnet, pretrained: false}
  fusion: {type: transformer, num_layers: 2, bogus: 1}
  pooler: {type: attention}
  head: {type: mlp, dropout: lots}
"""


def test_three_mistakes_one_error_with_dotted_paths(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(THREE_MISTAKES)
    with pytest.raises(clmlf.SpecError) as error:
        clmlf.load_spec(path)
    problems = error.value.problems
    assert len(problems) == 3, problems
    text = str(error.value)
    assert "model.text_encoder.type: unknown text_encoder 'minilmm'" in text and "Did you mean 'minilm'?" in text
    assert "model.fusion.bogus: extra inputs are not permitted" in text
    assert "model.head.dropout: input should be a valid number" in text
    assert "Traceback" not in text and isinstance(error.value, ValueError)


def test_missing_type_and_missing_component():
    with pytest.raises(clmlf.SpecError) as error:
        clmlf.load_spec({"model": {"text_encoder": {"pretrained": False}, "head": {"type": "mlp"}}})
    text = str(error.value)
    assert "model.text_encoder.type: field required" in text and "known: hf, minilm" in text
    assert "model.pooler: field required" in text


def test_yaml_syntax_and_missing_file(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("model: {text_encoder: [\n")
    with pytest.raises(clmlf.SpecError, match="invalid YAML"):
        clmlf.load_spec(bad)
    with pytest.raises(clmlf.SpecError, match="file not found"):
        clmlf.load_spec(tmp_path / "nope.yaml")


def test_sizes_flow_from_model_and_conflicts_are_reported(tiny_spec):
    model = tiny_spec.model
    assert model.fusion.d_model == model.pooler.d_model == model.head.d_model == 32
    assert model.head.num_classes == 3
    data = model.model_dump()
    data["pooler"]["d_model"] = 64
    with pytest.raises(clmlf.SpecError, match="pooler.d_model=64 differs from model d_model=32"):
        clmlf.load_spec({"model": data})


def test_round_trip_keeps_every_subclass_field(tiny_spec):
    dumped = tiny_spec.model_dump(mode="json")
    assert dumped["model"]["fusion"]["num_heads"] == 2 and dumped["model"]["image_encoder"]["model_name"] == "test_efficientnet"
    assert clmlf.load_spec(dumped) == tiny_spec
    assert ModelSpec.model_validate(dumped["model"]) == tiny_spec.model


def test_specs_are_frozen(tiny_spec):
    with pytest.raises(Exception):
        tiny_spec.model.fusion.num_layers = 5


def test_overrides():
    data = apply_overrides({"model": {"fusion": {"num_layers": 3}}}, ["model.fusion.num_layers=5", "train.epochs=2"])
    assert data == {"model": {"fusion": {"num_layers": 5}}, "train": {"epochs": 2}}
    with pytest.raises(clmlf.SpecError, match="expected KEY=VALUE"):
        apply_overrides({}, ["novalue"])


def test_contrastive_weights_without_a_projection_name_the_loss_field():
    with pytest.raises(clmlf.SpecError) as error:
        clmlf.load_spec(TINY_CONFIG, ["model.projection=null", "model.augmented_projection=null", "losses.lbcl_weight=0"])
    assert error.value.problems == ["losses.dbcl_weight: dbcl_weight > 0 need model.projection; add one "
                                    "(e.g. projection: {type: mlp}) or set the weights to 0"]
