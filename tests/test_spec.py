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
    with pytest.raises(clmlf.SpecError, match="no such file, and no preset of that name"):
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


def test_overrides_reach_list_items_by_index_or_type():
    data = {"losses": [{"type": "cross_entropy"}, {"type": "lbcl"}, {"type": "lbcl"}, {"type": "dbcl"}]}
    changed = apply_overrides(data, ["losses.dbcl.weight=0.3", "losses.1.temperature=0.1", "losses.-2.weight=0",
                                     "losses.0={type: cross_entropy, label_smoothing: 0.1}"])
    assert changed["losses"] == [{"type": "cross_entropy", "label_smoothing": 0.1}, {"type": "lbcl", "temperature": 0.1},
                                 {"type": "lbcl", "weight": 0}, {"type": "dbcl", "weight": 0.3}]
    with pytest.raises(clmlf.SpecError) as error:
        apply_overrides(data, ["losses.lbcl.weight=1", "losses.4.weight=1", "losses.lbcl_weight=1", "losses.0.type.x=1"])
    assert error.value.problems == [
        "--set 'losses.lbcl.weight=1': 'lbcl' is the type of several items; select one by index (0: cross_entropy, 1: lbcl, 2: lbcl, 3: dbcl)",
        "--set 'losses.4.weight=1': index 4 is out of range: the list has 4 items",
        "--set 'losses.lbcl_weight=1': 'lbcl_weight' is neither an index nor the type of an item (0: cross_entropy, 1: lbcl, 2: lbcl, 3: dbcl)",
        "--set 'losses.0.type.x=1': 'type' is not a mapping or a list",
    ]


def test_losses_need_a_weighted_term():
    with pytest.raises(clmlf.SpecError, match="losses: no term with a weight > 0"):
        clmlf.load_spec(TINY_CONFIG, ["losses=[{type: cross_entropy, weight: 0}]"])


def test_contrastive_weights_without_a_projection_name_the_loss_field():
    with pytest.raises(clmlf.SpecError) as error:
        clmlf.load_spec(TINY_CONFIG, ["model.projection=null", "model.augmented_projection=null", "losses.lbcl.weight=0"])
    assert error.value.problems == ["losses.2.weight: dbcl reads z and z_aug, which needs model.projection; add one "
                                    "(e.g. projection: {type: mlp}) or set its weight to 0"]


@pytest.mark.parametrize("native", [True, False])
def test_bf16_cpu_auto_follows_the_cpu(monkeypatch, native):
    import clmlf.spec

    monkeypatch.setattr(clmlf.spec, "cpu_has_native_bf16", lambda: native)
    train = clmlf.spec.TrainSpec(bf16_cpu="auto")
    assert train.bf16_on("cpu") is native and train.bf16_on("cuda") is True
    assert clmlf.spec.TrainSpec(bf16_cpu=True).bf16_on("cpu") and not clmlf.spec.TrainSpec().bf16_on("cpu")
