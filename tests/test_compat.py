"""`clmlf validate` builds the model (random weights) and runs two posts through it; `clmlf train` runs the same
check first: what would fail in training is one `error:` block, exit code 2, with the field and the fix."""

from __future__ import annotations

import pytest

from clmlf.cli import main
from conftest import TINY_CONFIG
from hf_families import TINY_FAMILIES

ROBERTA = f"{{type: hf, model_name: roberta-base, pretrained: false, config_overrides: {TINY_FAMILIES['roberta-base']}}}"
ROBERTA_VOCAB = ROBERTA.replace("'vocab_size': 100", "'vocab_size': 50265")  # a vocabulary the MiniLM one fits in


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("command", ["validate", "train"])
def test_fixed_size_vit_is_caught_before_training(command, capsys, tmp_path):
    out = ["--out", str(tmp_path / "run")] if command == "train" else []
    code, err = run(capsys, command, str(TINY_CONFIG), "--set", "model.image_encoder.model_name=vit_tiny_patch16_224", *out)
    assert code == 2 and err.count("error:") == 1 and "Traceback" not in err
    assert ("model.image_encoder: the backbone takes 224 px images only, got (64, 64); set data.image_size: 224, or "
            "build the ViT for 64 px with model.image_encoder.model_kwargs: {img_size: 64") in err
    assert not (tmp_path / "run").exists()


def test_model_kwargs_make_the_vit_fit(capsys):
    code, err = run(capsys, "validate", str(TINY_CONFIG), "--set", "model.image_encoder.model_name=vit_tiny_patch16_224",
                    "--set", "model.image_encoder.model_kwargs={img_size: 64}")
    assert code == 0 and err.strip().endswith("OK")


def test_distilbert_config_folder_validates(capsys, tmp_path):
    """A local DistilBERT folder (config + tokenizer): its class takes no add_pooling_layer."""
    from transformers import AutoConfig

    from clmlf.testing.tokenizers import write_tiny_tokenizer

    folder = write_tiny_tokenizer(tmp_path / "distilbert", "distilbert")
    AutoConfig.for_model("distilbert", **TINY_FAMILIES["distilbert-base-uncased"]).save_pretrained(folder)
    code, err = run(capsys, "validate", str(TINY_CONFIG), "--set", f"model.text_encoder={{type: hf, model_name: {folder}, pretrained: false}}")
    assert code == 0, err


@pytest.mark.parametrize("text_encoder, expected", [
    (ROBERTA, "model.text_encoder.tokenizer_name: cannot load a tokenizer from 'roberta-base'"),
    (ROBERTA_VOCAB[:-1] + ", tokenizer_name: %MINILM%}", "pads with id 0 but the roberta model pads with 1: it belongs to another model family"),
    ("{type: hf, model_name: no-such/model, pretrained: false}", "model.text_encoder.model_name: cannot load the transformers config of 'no-such/model'"),
    ("{type: minilm, pretrained: false, max_length: 600}", "model.text_encoder.max_length: 600 exceeds the model's 512 token positions"),
])
def test_text_encoder_problems_name_the_field(text_encoder, expected, capsys):
    from clmlf.encoders.text_offline import minilm_dir

    code, err = run(capsys, "validate", str(TINY_CONFIG), "--set", f"model.text_encoder={text_encoder.replace('%MINILM%', minilm_dir())}")
    assert code == 2 and err.count("error:") == 1 and "Traceback" not in err
    assert expected in err
