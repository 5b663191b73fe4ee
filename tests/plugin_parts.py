"""Third-party-style components with only the required surface of their contracts (docs/components.md), registered
in-process under test names while :func:`registered` is active: a GRU text encoder with its own word-hash tokenizer
(no Hugging Face, no ``backbone``), a conv image encoder on uint8 pixels (no ``data_config``/``backbone``/
``features``/``tokens``/``frozen``), a max pooler, and two broken text encoders (no ``tokenizer()``; a tuple instead
of an ``EncoderOutput``)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from torch import Tensor, nn

import clmlf
from clmlf import ComponentSpec, EncoderOutput, PoolerOutput
from clmlf.registry import registry

PAD, SEP = 0, 1


class WordHashTokenizer:
    """Lower-cased words hashed into ``buckets`` ids (0 = padding, 1 = separator before the pair), called like a
    Hugging Face tokenizer: right-padded ``input_ids`` and ``attention_mask`` (B, L), at most ``max_length`` long."""

    def __init__(self, buckets: int) -> None:
        self.buckets = buckets

    def word_id(self, word: str) -> int:
        return 2 + zlib.crc32(word.encode()) % (self.buckets - 2)

    def __call__(self, texts: list[str], pairs: list[str] | None = None, padding: bool = True, max_length: int = 32,
                 return_tensors: str = "pt", truncation: bool | str = True) -> dict[str, Tensor]:
        rows = []
        for index, text in enumerate(texts):
            second = [] if pairs is None else [SEP, *map(self.word_id, pairs[index].lower().split())]
            first = [self.word_id(word) for word in text.lower().split()] or [SEP]
            rows.append((first[: max(max_length - len(second), 1)] + second)[:max_length])
        length = max(len(row) for row in rows)
        input_ids = torch.full((len(rows), length), PAD, dtype=torch.long)
        for index, row in enumerate(rows):
            input_ids[index, : len(row)] = torch.tensor(row)
        return {"input_ids": input_ids, "attention_mask": (input_ids != PAD).long()}


class GRUTextEncoderSpec(ComponentSpec):
    type: Literal["test_gru"] = "test_gru"
    d_model: int | None = None
    buckets: int = 256
    max_length: int = 24


class GRUTextEncoder(nn.Module):
    """Word embeddings -> GRU: hidden (B, L, d_model), mask (B, L), pooled = the state at the last real word."""

    def __init__(self, d_model: int = 32, buckets: int = 256, max_length: int = 24) -> None:
        super().__init__()
        self.embed = nn.Embedding(buckets, d_model, padding_idx=PAD)
        self.gru = nn.GRU(d_model, d_model, batch_first=True)
        self.max_length = max_length
        self._tokenizer = WordHashTokenizer(buckets)

    def tokenizer(self) -> WordHashTokenizer:
        return self._tokenizer

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> EncoderOutput:
        hidden, _ = self.gru(self.embed(input_ids))
        last = attention_mask.sum(1).clamp_min(1) - 1
        return EncoderOutput(hidden, attention_mask.bool(), hidden[torch.arange(len(hidden)), last])


class ConvImageEncoderSpec(ComponentSpec):
    type: Literal["test_conv"] = "test_conv"
    d_model: int | None = None


class ConvImageEncoder(nn.Module):
    """uint8 pixels (B, 3, H, W) -> three stride-2 convs -> a 4 x 4 grid of tokens (B, 16, d_model), pooled = their mean."""

    def __init__(self, d_model: int = 32) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, d_model, 3, stride=2, padding=1), nn.AdaptiveAvgPool2d(4),
        )

    def forward(self, pixel_values: Tensor) -> EncoderOutput:
        pixels = pixel_values.float() / 255 if pixel_values.dtype == torch.uint8 else pixel_values.float()
        hidden = self.convs(pixels).flatten(2).transpose(1, 2)
        return EncoderOutput(hidden, torch.ones(hidden.shape[:2], dtype=torch.bool, device=hidden.device), hidden.mean(1))


class MaxPoolerSpec(ComponentSpec):
    type: Literal["test_max"] = "test_max"


class MaxPooler(nn.Module):
    """hidden (B, L, D), mask (B, L) -> the maximum over real tokens (B, D); no weights."""

    def forward(self, hidden: Tensor, mask: Tensor) -> PoolerOutput:
        return PoolerOutput(hidden.masked_fill(~mask.bool()[..., None], float("-inf")).amax(1))


class NoTokenizerSpec(ComponentSpec):
    type: Literal["test_no_tokenizer"] = "test_no_tokenizer"
    d_model: int | None = None


class NoTokenizerEncoder(nn.Module):
    """Encodes ids but cannot tokenise: no ``tokenizer()``, no ``max_length``."""

    def __init__(self, d_model: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(256, d_model)

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> EncoderOutput:
        hidden = self.embed(input_ids)
        return EncoderOutput(hidden, attention_mask.bool(), hidden[:, 0])


class TupleEncoderSpec(ComponentSpec):
    type: Literal["test_tuple"] = "test_tuple"
    d_model: int | None = None


class TupleEncoder(NoTokenizerEncoder):
    """Returns ``(hidden, mask)`` instead of an ``EncoderOutput``."""

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.embed(input_ids), attention_mask.bool()


def plugin_model_spec(**parts: dict) -> dict:
    """A tiny model mapping on the plugin parts (``parts`` replace fields, e.g. ``text_encoder={"type": ...}``)."""
    layer = {"num_layers": 1, "num_heads": 2, "ffn_dim": 64}
    return {
        "d_model": 32, "num_classes": 3,
        "text_encoder": {"type": "test_gru"}, "image_encoder": {"type": "test_conv"},
        "image_transformer": {"type": "transformer", **layer}, "fusion": {"type": "transformer", **layer},
        "pooler": {"type": "test_max"}, "head": {"type": "mlp"},
        "projection": {"type": "mlp"}, "augmented_projection": {"type": "mlp"},
        **parts,
    }


PARTS = (
    ("text_encoder", "test_gru", GRUTextEncoder, GRUTextEncoderSpec),
    ("image_encoder", "test_conv", ConvImageEncoder, ConvImageEncoderSpec),
    ("pooler", "test_max", MaxPooler, MaxPoolerSpec),
    ("text_encoder", "test_no_tokenizer", NoTokenizerEncoder, NoTokenizerSpec),
    ("text_encoder", "test_tuple", TupleEncoder, TupleEncoderSpec),
)


@contextmanager
def registered() -> Iterator[None]:
    """The parts registered with ``clmlf.register`` under their test names, removed again on exit (other tests list
    the built-ins only)."""
    for kind, name, component, spec in PARTS:
        clmlf.register(kind, name, spec=spec)(component)
    try:
        yield
    finally:
        for kind, name, _, _ in PARTS:
            registry()._entries[kind].pop(name)
