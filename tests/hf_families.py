"""Tiny random configs of each Hugging Face text family (no download), for the family and matrix tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clmlf.encoders.hf_config import OFFLINE_CONFIGS, UNCASED_WORDPIECE
from clmlf.testing.tokenizers import write_tiny_tokenizer

LAYERS = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
TINY_FAMILIES: dict[str, dict[str, Any]] = {
    "bert-base-uncased": LAYERS,
    "roberta-base": {**LAYERS, "vocab_size": 100},
    "distilbert-base-uncased": {"hidden_size": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64},
    "microsoft/deberta-v3-base": {**LAYERS, "vocab_size": 100},
    "google/electra-base-discriminator": {**LAYERS, "embedding_size": 16},
    "xlm-roberta-base": {**LAYERS, "vocab_size": 100},
    "microsoft/mpnet-base": {**LAYERS, "vocab_size": 100},
    "albert-base-v2": {**LAYERS, "embedding_size": 16, "vocab_size": 100},
}
"""``config_overrides`` per offline architecture name: 2 layers of width 32 (ELECTRA and ALBERT with a smaller
embedding width, so their embedding projection runs)."""


def family_spec(name: str, folder: Path, **fields: Any) -> dict[str, Any]:
    """An ``hf`` text encoder spec of the tiny ``name``; families outside the packaged MiniLM vocabulary get a tiny
    tokenizer of their layout written into ``folder`` (unless ``fields`` name one)."""
    spec = {"type": "hf", "model_name": name, "pretrained": False, "config_overrides": TINY_FAMILIES[name],
            "max_length": 32, **fields}
    if name not in UNCASED_WORDPIECE and "tokenizer_name" not in fields:
        spec["tokenizer_name"] = str(write_tiny_tokenizer(folder, OFFLINE_CONFIGS[name]["model_type"]))
    return spec
