"""A third-party clmlf plugin: a bag-of-embeddings text encoder registered through the entry point."""

from typing import Literal

import torch
from torch import nn

from clmlf import ComponentSpec, EncoderOutput, hookimpl


class BagOfEmbeddingsSpec(ComponentSpec):
    type: Literal["demo_bow"] = "demo_bow"
    vocab_size: int = 30522
    d_model: int | None = None


class BagOfEmbeddings(nn.Module):
    def __init__(self, vocab_size: int = 30522, d_model: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        hidden = self.embed(input_ids)
        return EncoderOutput(hidden, attention_mask.bool(), hidden.mean(1))


@hookimpl
def clmlf_register(registry):
    registry.add("text_encoder", "demo_bow", BagOfEmbeddings, BagOfEmbeddingsSpec)
