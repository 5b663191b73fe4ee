"""Each Hugging Face text family x {tiny CNN, tiny ViT}: validates, trains 2 steps on synthetic posts, and its
checkpoint, moved away from the deleted tokenizer/config sources, reloads and predicts the same (no network)."""

from __future__ import annotations

import shutil

import pytest
import torch

import clmlf
from clmlf.compat import check_runnable
from clmlf.testing import write_posts
from clmlf.train.trainer import train
from hf_families import TINY_FAMILIES, family_spec

IMAGE_ENCODERS = {"cnn": {"type": "timm", "model_name": "test_resnet", "pretrained": False, "freeze": False},
                  "vit": {"type": "timm", "model_name": "test_vit", "pretrained": False, "freeze": False, "pool_size": 2}}


@pytest.mark.parametrize("image", list(IMAGE_ENCODERS))
@pytest.mark.parametrize("text", list(TINY_FAMILIES))
def test_family_trains_and_its_moved_checkpoint_predicts_the_same(text, image, tmp_path):
    posts = write_posts(tmp_path / "posts", sizes=(8, 4, 4))
    spec = clmlf.load_spec({
        "name": "matrix",
        "model": {"d_model": 32, "num_classes": 3, "text_encoder": family_spec(text, tmp_path / "sources" / "tokenizer"),
                  "image_encoder": IMAGE_ENCODERS[image],
                  "image_transformer": {"type": "transformer", "num_layers": 1, "num_heads": 2, "ffn_dim": 64},
                  "fusion": {"type": "transformer", "num_layers": 1, "num_heads": 2, "ffn_dim": 64},
                  "pooler": {"type": "attention"}, "head": {"type": "mlp"}, "projection": {"type": "mlp"}},
        "data": {"dataset": {"type": "jsonl", "root": str(posts), "train": "train.jsonl", "dev": "dev.jsonl",
                             "test": "test.jsonl", "images": True}, "image_size": 32},
        "train": {"epochs": 1, "batch_size": 4, "eval_batch_size": 8, "lr": 1e-3, "device": "cpu"},
    })
    check_runnable(spec)
    metrics = train(spec, tmp_path / "run", progress=False)
    assert metrics["epochs"][0]["train"]["loss"] > 0

    model = clmlf.CLMLF.from_pretrained(tmp_path / "run" / "checkpoint")
    batch = model.text_encoder.tokenizer()(["great sunny day", "sad"], None, padding=True, return_tensors="pt")
    inputs = {**batch, "pixel_values": torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)}
    with torch.no_grad():
        logits = model(**inputs).logits
    shutil.move(tmp_path / "run" / "checkpoint", tmp_path / "moved")
    shutil.rmtree(tmp_path / "sources", ignore_errors=True)
    shutil.rmtree(tmp_path / "run")
    with torch.no_grad():
        torch.testing.assert_close(clmlf.CLMLF.from_pretrained(tmp_path / "moved")(**inputs).logits, logits)
