"""`clmlf schema` describes the fields a user writes for the model, the data and the encoders."""

from __future__ import annotations

import json

import pytest

from clmlf.cli import main
from clmlf.registry import registry
from clmlf.spec import DataSpec, ModelSpec

DESCRIBED = [ModelSpec, DataSpec, *(registry().entry(kind, name).spec for kind in ("text_encoder", "image_encoder")
                                    for name in ("hf", "minilm", "timm", "torchvision_resnet", "efficientnet_lite0")
                                    if name in registry().names(kind))]


@pytest.mark.parametrize("spec", DESCRIBED, ids=lambda spec: spec.__name__)
def test_every_field_has_a_description(spec):
    missing = [name for name, field in spec.model_fields.items() if name != "type" and not field.description]
    assert not missing, f"{spec.__name__}: fields without a description: {missing}"


def test_schema_shows_the_encoder_fields(capsys):
    assert main(["schema"]) == 0
    text = json.dumps(json.loads(capsys.readouterr().out))
    assert "keyword arguments of timm.create_model" in text and "architecture known offline for pretrained: false" in text
