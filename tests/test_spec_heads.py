"""Spec validation rejects num_heads that do not divide the shared d_model, naming the field path."""

from typing import Literal

import pytest

import clmlf
from clmlf.cli import main
from clmlf.registry import Entry, registry
from clmlf.spec import ComponentSpec
from conftest import TINY_CONFIG


@pytest.mark.parametrize("component, heads, nearest", [("fusion", 3, "2 or 4"), ("image_transformer", 5, "4 or 8"),
                                                        ("fusion", 64, "32")])
def test_num_heads_must_divide_d_model(component, heads, nearest):
    with pytest.raises(clmlf.SpecError) as error:
        clmlf.load_spec(TINY_CONFIG, [f"model.{component}.num_heads={heads}"])
    assert error.value.problems == [
        f"model.{component}.num_heads: d_model=32 is not divisible by num_heads={heads} (each head takes d_model / "
        f"num_heads features); set num_heads to a divisor of 32, e.g. {nearest}"
    ]


def test_every_bad_head_count_is_reported_at_once():
    with pytest.raises(clmlf.SpecError) as error:
        clmlf.load_spec(TINY_CONFIG, ["model.fusion.num_heads=3", "model.image_transformer.num_heads=6"])
    assert [line.split(":")[0] for line in error.value.problems] == ["model.image_transformer.num_heads", "model.fusion.num_heads"]


def test_divisors_of_a_larger_d_model_pass():
    spec = clmlf.load_spec(TINY_CONFIG, ["model.d_model=48", "model.fusion.num_heads=3", "model.image_transformer.num_heads=6"])
    assert (spec.model.fusion.num_heads, spec.model.fusion.d_model) == (3, 48)


def test_validate_cli_reports_the_field_path(capsys):
    assert main(["validate", str(TINY_CONFIG), "--set", "model.fusion.num_heads=3"]) == 2
    err = capsys.readouterr().err
    assert "1 problem" in err and "model.fusion.num_heads: d_model=32 is not divisible by num_heads=3" in err
    assert "Traceback" not in err


def test_bare_model_spec_mapping_is_checked_too(tiny_spec):
    data = tiny_spec.model.model_dump()
    data["fusion"] = {**data["fusion"], "num_heads": 5, "d_model": None}
    with pytest.raises(clmlf.SpecError, match=r"model\.fusion\.num_heads: d_model=32 is not divisible by num_heads=5"):
        clmlf.build_model(data)


class HeadlessFusionSpec(ComponentSpec):
    """A plugin-style fusion spec with d_model but no num_heads (an odd ``heads`` field is its own business)."""

    type: Literal["headless_demo"] = "headless_demo"
    d_model: int | None = None
    heads: int = 3


def test_component_specs_without_num_heads_are_unaffected(tiny_spec, monkeypatch):
    fusions = registry()._entries["fusion"]
    HeadlessFusionSpec.component_kind = "fusion"
    monkeypatch.setitem(fusions, "headless_demo", Entry("fusion", "headless_demo", object, HeadlessFusionSpec))
    data = tiny_spec.model_dump()
    data["model"]["fusion"] = {"type": "headless_demo"}
    spec = clmlf.load_spec(data)
    assert spec.model.fusion.heads == 3 and spec.model.fusion.d_model == 32
    data["model"]["fusion"] = {"type": "late"}
    assert clmlf.load_spec(data).model.fusion.d_model == 32
