"""A text encoder that is not a Hugging Face model: hashed word embeddings and a GRU."""

from __future__ import annotations

import re
import zlib
from typing import Any, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from clmlf import ComponentSpec, EncoderOutput

PAD, CLS, SEP = 0, 1, 2  # special ids; words hash into ids 3 .. vocab_size - 1


class WordTokenizer:
    """Lower-cased words hashed (crc32, the same in every process) into ``vocab_size`` ids, after a ``[CLS]`` id;
    called like a Hugging Face tokenizer: ``tok(texts, pairs, padding=True, max_length=64, return_tensors="pt")``."""

    def __init__(self, vocab_size: int, max_length: int) -> None:
        self.vocab_size, self.max_length = vocab_size, max_length

    def words(self, text: str) -> list[int]:
        return [3 + zlib.crc32(word.encode()) % (self.vocab_size - 3) for word in re.findall(r"\w+", text.lower())]

    def __call__(self, texts: list[str], pairs: list[str] | None = None, padding: bool = True,
                 max_length: int | None = None, return_tensors: str = "pt", **_options: Any) -> dict[str, Tensor]:
        """``input_ids`` and ``attention_mask`` (B, L): ``[CLS] text [SEP] pair`` cut to ``max_length``, zero-padded."""
        limit = max_length or self.max_length
        rows = [[CLS, *self.words(text), *([SEP, *self.words(pairs[index])] if pairs else [])][:limit]
                for index, text in enumerate(texts)]
        length = max(map(len, rows))
        ids = torch.tensor([row + [PAD] * (length - len(row)) for row in rows])
        return {"input_ids": ids, "attention_mask": (ids != PAD).long()}


class GRUTextEncoderSpec(ComponentSpec):
    type: Literal["gru"] = "gru"
    vocab_size: int = Field(20000, ge=8)
    max_length: int = Field(64, ge=4)
    num_layers: int = Field(1, ge=1)
    d_model: int | None = None  # filled from model.d_model

    @classmethod
    def example(cls) -> dict[str, Any]:
        return {"vocab_size": 500}


class GRUTextEncoder(nn.Module):
    """input_ids (B, L) -> EncoderOutput(hidden (B, L, d_model), mask (B, L), pooled (B, d_model)).

    A one-way GRU reads left to right, so padding after a text never changes its states; ``pooled`` is the state at
    the last real token, the one that has read the whole text."""

    def __init__(self, vocab_size: int = 20000, max_length: int = 64, num_layers: int = 1, d_model: int = 256) -> None:
        super().__init__()
        self.vocab_size, self.max_length = vocab_size, max_length
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        self.gru = nn.GRU(d_model, d_model, num_layers=num_layers, batch_first=True)

    def tokenizer(self) -> WordTokenizer:
        return WordTokenizer(self.vocab_size, self.max_length)

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> EncoderOutput:
        mask = attention_mask.bool()
        hidden, _ = self.gru(self.embed(input_ids))
        last = mask.sum(1).clamp_min(1) - 1
        return EncoderOutput(hidden, mask, hidden[torch.arange(hidden.shape[0]), last])
