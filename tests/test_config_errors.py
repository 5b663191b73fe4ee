"""Configs that used to pass into raw tracebacks: bad ``--set`` YAML, a component its library refuses to build, sizes
beyond memory, duplicate keys, alias bombs: each is one SpecError naming the field (or file:line) and the fix."""

from __future__ import annotations

import pytest

import clmlf
from clmlf.cli import main
from clmlf.errors import SpecError
from conftest import TINY_CONFIG


@pytest.mark.parametrize("assignment", ["train.epochs=[1,2", "model.fusion={type: x"])
@pytest.mark.parametrize("command", ["validate", "train", "evaluate"])
def test_a_set_value_that_is_not_yaml_is_one_error(tmp_path, capsys, assignment, command):
    target = str(TINY_CONFIG) if command != "evaluate" else str(tmp_path)
    if command == "evaluate":
        (tmp_path / "checkpoint").mkdir()
        (tmp_path / "checkpoint" / "model.safetensors").write_bytes(b"")
        (tmp_path / "config.json").write_text(clmlf.load_spec(TINY_CONFIG).model_dump_json())
        assignment = "data.root=[1,2" if "epochs" in assignment else "data.dataset={type: x"
    assert main([command, target, "--set", assignment]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: --set: 1 problem\n  - --set {assignment!r}: the value, line 1, column ")
    assert "invalid YAML" in error and "quote a string, close brackets and braces" in error


def test_a_component_its_library_refuses_is_named(tmp_path, capsys):
    assert main(["train", str(TINY_CONFIG), "--out", str(tmp_path / "run"),
                 "--set", "model.text_encoder.config_overrides.hidden_size=abc"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {TINY_CONFIG}: 1 problem\n  - model.text_encoder: 'minilm' failed to build (")
    assert "fix the value it names in model.text_encoder" in error
    if transformers_checks_config_values():  # transformers 5 names the field; 4.x fails later, inside torch
        assert "hidden_size" in error


def transformers_checks_config_values() -> bool:
    from transformers import BertConfig

    try:
        BertConfig(hidden_size="abc")
    except Exception:  # noqa: BLE001 - huggingface_hub's StrictDataclassFieldValidationError in transformers 5
        return True
    return False


@pytest.mark.parametrize("assignment, field", [("data.image_size=100000", "data.image_size"),
                                               ("model.d_model=10000000", "model.d_model"),
                                               ("model.fusion.ffn_dim=100000000", "model.fusion.ffn_dim")])
def test_sizes_beyond_memory_do_not_validate(assignment, field):
    with pytest.raises(SpecError, match=f"{field}: input should be less than or equal to"):
        clmlf.load_spec(TINY_CONFIG, [assignment])


def test_a_key_given_twice_is_refused_with_its_line(tmp_path):
    config = tmp_path / "twice.yaml"
    config.write_text(TINY_CONFIG.read_text() + "name: again\n")
    lines = config.read_text().splitlines()
    with pytest.raises(SpecError) as error:
        clmlf.load_spec(config)
    assert error.value.problems == [f"line {len(lines)}, column 1: invalid YAML (the key 'name' is given twice (first on "
                                    f"line {lines.index('name: tiny') + 1}); keep one)"]
    (tmp_path / "flow.yaml").write_text("model: {d_model: 32, d_model: 64}\n")
    with pytest.raises(SpecError, match="the key 'd_model' is given twice"):
        clmlf.load_spec(tmp_path / "flow.yaml")
    (tmp_path / "merge.yaml").write_text("base: &b {a: 1}\nother: {<<: *b, a: 2}\n")
    with pytest.raises(SpecError, match="base: extra inputs"):  # a merge key may be overridden: not a duplicate
        clmlf.load_spec(tmp_path / "merge.yaml")


def test_an_alias_bomb_is_refused(tmp_path):
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]  # 10**7 values
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError, match="expands to more than 100000 values through its aliases"):
        clmlf.load_spec(tmp_path / "bomb.yaml")
    levels = ["&a0 [" + ", ".join(["x"] * 10) + "]"] + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    with pytest.raises(SpecError, match="expands to more than"):
        clmlf.load_spec(TINY_CONFIG, [f"train.epochs=[{', '.join(levels)}]"])
