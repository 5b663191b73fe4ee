"""`clmlf schema` describes every field a user writes: the experiment, training, model and data specs and every
built-in component spec (plugins' specs are not held to it)."""

from __future__ import annotations

import json

import pytest

from clmlf.cli import main
from clmlf.registry import registry
from clmlf.spec import DataSpec, ExperimentSpec, ModelSpec, TrainSpec

BUILT_IN = [entry.spec for kind in registry().kinds() for entry in registry().entries(kind) if entry.module.startswith("clmlf.")]
DESCRIBED = [ExperimentSpec, TrainSpec, ModelSpec, DataSpec, *BUILT_IN]


@pytest.mark.parametrize("spec", DESCRIBED, ids=lambda spec: spec.__name__)
def test_every_field_has_a_description(spec):
    missing = [name for name, field in spec.model_fields.items() if name != "type" and not field.description]
    assert not missing, f"{spec.__name__}: fields without a description: {missing}"


def test_every_kind_has_built_in_specs_checked():
    kinds = {registry().kind_of(spec) for spec in BUILT_IN}
    assert kinds == set(registry().kinds())


def test_schema_shows_the_field_descriptions(capsys):
    assert main(["schema"]) == 0
    text = json.dumps(json.loads(capsys.readouterr().out))
    assert "keyword arguments of timm.create_model" in text and "architecture known offline for pretrained: false" in text
    assert "the dev score that picks the checkpoint" in text and "dividing the similarities" in text
    assert "the registered name of the component" in text
