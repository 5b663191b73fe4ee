"""A checkpoint holds what rebuilding its encoders needs: moved elsewhere, without the folders its spec first named,
it loads in eval mode and predicts the same."""

from __future__ import annotations

import json
import shutil

import torch

import clmlf
from clmlf.testing.tokenizers import write_tiny_tokenizer
from conftest import tiny_batch
from hf_families import TINY_FAMILIES

TINY = {"d_model": 32, "num_classes": 3, "pooler": {"type": "attention"}, "head": {"type": "mlp"},
        "fusion": {"type": "transformer", "num_layers": 1, "num_heads": 2, "ffn_dim": 64}}


def test_moved_checkpoint_without_its_sources_predicts_the_same(tmp_path):
    import timm
    from safetensors.torch import save_file
    from transformers import AutoConfig

    sources = tmp_path / "sources"
    AutoConfig.for_model("roberta", **{**TINY_FAMILIES["roberta-base"], "pad_token_id": 1}).save_pretrained(sources / "roberta")
    tokenizer = write_tiny_tokenizer(sources / "tokenizer", "roberta")
    save_file(timm.create_model("test_resnet").state_dict(), sources / "resnet.safetensors")
    spec = {**TINY, "text_encoder": {"type": "hf", "model_name": str(sources / "roberta"), "tokenizer_name": str(tokenizer),
                                     "pretrained": False},
            "image_encoder": {"type": "timm", "model_name": "test_resnet", "checkpoint_path": str(sources / "resnet.safetensors")}}
    model = clmlf.build_model(spec).eval()
    batch = model.text_encoder.tokenizer()(["great sunny day", "sad"], None, padding=True, return_tensors="pt")
    inputs = {**batch, "pixel_values": tiny_batch(image=32)["pixel_values"]}
    with torch.no_grad():
        logits = model(**inputs).logits
    model.save_pretrained(tmp_path / "checkpoint")
    shutil.move(tmp_path / "checkpoint", tmp_path / "elsewhere")
    shutil.rmtree(sources)

    saved = json.loads((tmp_path / "elsewhere" / "config.json").read_text())
    assert saved["assets"] == {"text_encoder": ["model_name", "tokenizer_name"]}
    assert saved["spec"]["text_encoder"]["model_name"] == saved["spec"]["text_encoder"]["tokenizer_name"] == "text_encoder"
    assert saved["spec"]["image_encoder"]["checkpoint_path"] is None  # its weights are in model.safetensors
    loaded = clmlf.CLMLF.from_pretrained(tmp_path / "elsewhere")
    assert not loaded.training
    assert loaded.text_encoder.tokenizer()(["great sunny day", "sad"], None, padding=True, return_tensors="pt")["input_ids"].equal(batch["input_ids"])
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, logits)


def test_checkpoint_without_assets_still_loads(tiny_model, tmp_path):
    """Checkpoints written before assets existed have no "assets" key; packaged encoders (minilm) write none."""
    tiny_model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config.pop("assets") == {} and not (tmp_path / "text_encoder").exists()
    (tmp_path / "config.json").write_text(json.dumps(config))
    inputs = tiny_batch()
    with torch.no_grad():
        torch.testing.assert_close(clmlf.CLMLF.from_pretrained(tmp_path)(**inputs).logits, tiny_model(**inputs).logits)
