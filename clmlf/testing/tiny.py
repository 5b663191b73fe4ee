"""The tiny CLMLF a component is checked inside: save/load round trip and a few real training steps."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from clmlf.spec import ComponentSpec
from clmlf.testing.posts import write_posts
from clmlf.testing.where import Where

TINY_MODEL: dict[str, Any] = {  # the model of configs/tiny.yaml (a test keeps the two equal)
    "d_model": 32,
    "num_classes": 3,
    "text_encoder": {"type": "minilm", "pretrained": False, "max_length": 48,
                     "config_overrides": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}},
    "image_encoder": {"type": "timm", "model_name": "test_efficientnet", "pretrained": False, "freeze": False},
    "image_transformer": {"type": "transformer", "num_layers": 1, "num_heads": 2, "ffn_dim": 64},
    "fusion": {"type": "transformer", "num_layers": 2, "num_heads": 2, "ffn_dim": 64},
    "pooler": {"type": "attention"},
    "head": {"type": "mlp"},
    "projection": {"type": "mlp"},
    "augmented_projection": {"type": "mlp"},
}
SLOTS = ("text_encoder", "image_encoder", "image_transformer", "fusion", "pooler", "head", "projection")
"""Kinds with a place in the model (a projection goes to both projection slots)."""
BATCH = 4


def tiny_model(kind: str, spec: ComponentSpec, d_model: int, num_classes: int, images: bool = True) -> dict[str, Any]:
    """The tiny model mapping with ``spec`` at its slot (``images=False``: text only)."""
    model = {**TINY_MODEL, "d_model": d_model, "num_classes": num_classes}
    if kind in SLOTS:
        model[kind] = spec
    if kind == "projection":
        model["augmented_projection"] = spec
    if not images:
        model["image_encoder"] = model["image_transformer"] = None
    return model


def check_round_trip(kind: str, spec: ComponentSpec, where: Where, folder: Path, d_model: int, num_classes: int) -> None:
    """``save_pretrained`` then ``CLMLF.from_pretrained`` rebuilds the component and gives the same logits (eval mode)."""
    from clmlf.model import CLMLF
    from clmlf.spec import ModelSpec
    from clmlf.testing.kinds import text_inputs

    model = ModelSpec.model_validate(tiny_model(kind, spec, d_model, num_classes)).build().eval()
    inputs = {**text_inputs(model.text_encoder, where), "pixel_values": torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)}
    with torch.no_grad():
        logits = model(**inputs).logits
        loaded = CLMLF.from_pretrained(model.save_pretrained(folder)).eval()
        where.expect(type(getattr(loaded, kind)) is type(getattr(model, kind)),
                     f"from_pretrained rebuilt a {type(getattr(loaded, kind)).__name__}, saved a {type(getattr(model, kind)).__name__}")
        where.close("save_pretrained / from_pretrained changes the logits", loaded(**inputs).logits, logits,
                    "keep every weight in the state_dict (parameters or persistent buffers) and let the spec's fields "
                    "rebuild the same architecture")


def check_training(kind: str, spec: ComponentSpec, component: Any, where: Where, folder: Path, steps: int,
                   d_model: int, num_classes: int) -> dict[str, Any]:
    """``steps`` optimiser steps of ``clmlf.train.trainer.train`` (one epoch, batch 4) on synthetic posts, with
    ``spec`` in its place: the model, the dataset, the formatter, the augmentation or the losses. Returns metrics."""
    from clmlf.spec import load_spec
    from clmlf.train.trainer import train

    uses_aspect = kind == "formatter" and component.uses_aspect
    posts = write_posts(folder / "posts", sizes=(BATCH * steps, BATCH, BATCH), aspects=uses_aspect)
    data: dict[str, Any] = {"dataset": {"type": "jsonl", "root": str(posts), "train": "train.jsonl", "dev": "dev.jsonl",
                                        "test": "test.jsonl", "images": True},
                            "augmentation": {"type": "randaugment"}, "image_size": 32}
    images = True
    if kind in ("dataset", "formatter", "augmentation"):
        data[kind] = spec
    if kind == "dataset":
        images, num_classes = component.has_images, component.num_classes
    if kind == "augmentation":
        data["image_size"] = getattr(spec, "image_size", None) or 32
    experiment = {"name": f"check-{kind}-{where.name}", "model": tiny_model(kind, spec, d_model, num_classes, images),
                  "data": data, "train": {"epochs": 1, "batch_size": BATCH, "eval_batch_size": 8, "lr": 1e-3, "device": "cpu"}}
    if kind == "loss":
        experiment["losses"] = [{"type": "cross_entropy"}, spec]
    metrics = train(load_spec(experiment), folder / "run", progress=False)
    losses = metrics["epochs"][0]["train"]
    where.expect(all(math.isfinite(value) for value in losses.values()), f"training gave non-finite losses {losses}")
    return metrics
