"""Input formatters: sentence ``[CLS] s [SEP]`` and aspect ``[CLS] s [SEP] aspect [SEP]``.

Tokenizer-agnostic: the tokenizer's own special tokens are used (BERT ``[CLS]/[SEP]``, RoBERTa
``<s>/</s></s>``...), through the Hugging Face ``tokenizer(text, text_pair, ...)`` protocol. Long inputs
lose words from the sentence, never from the aspect.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import Tensor

from clmlf.spec import ComponentSpec


class FormatterOptions(ComponentSpec):
    """Fields both formatter specs share (not registered itself)."""

    max_length: int | None = Field(None, ge=4, description="longest tokenised input, special tokens included; null: "
                                   "the text encoder's max_length")


class SentenceFormatterSpec(FormatterOptions):
    type: Literal["sentence"] = "sentence"


class AspectFormatterSpec(FormatterOptions):
    type: Literal["aspect"] = "aspect"


class TextFormatter:
    """Callable: (tokenizer, texts, aspects) -> dict of (B, L) tensors ``input_ids``, ``attention_mask``
    (and ``token_type_ids`` where the tokenizer has them), padded to the longest item.

    ``max_length`` (None: the text encoder's) caps the word pieces including special tokens.
    """

    uses_aspect = False

    def __init__(self, max_length: int | None = None) -> None:
        self.max_length = max_length

    def pair(self, texts: list[str], aspects: list[str] | None) -> list[str] | None:
        return None

    def __call__(
        self, tokenizer, texts: list[str], aspects: list[str] | None = None, max_length: int | None = None
    ) -> dict[str, Tensor]:
        limit = self.max_length or max_length or 512
        second = self.pair(texts, aspects)
        return dict(
            tokenizer(
                list(texts), second, padding=True, max_length=limit, return_tensors="pt",
                truncation="only_first" if second is not None else True,
            )
        )


class SentenceFormatter(TextFormatter):
    """``[CLS] sentence [SEP]``; aspects, if given, are ignored."""


class AspectFormatter(TextFormatter):
    """``[CLS] sentence [SEP] aspect [SEP]`` (aspect-based sentiment: Twitter-15/17)."""

    uses_aspect = True

    def pair(self, texts: list[str], aspects: list[str] | None) -> list[str]:
        if aspects is None or len(aspects) != len(texts):
            got = "no aspects" if aspects is None else f"{len(aspects)} aspects"
            raise ValueError(f"the aspect formatter needs one aspect per text: {len(texts)} texts, {got}")
        missing = [index for index, aspect in enumerate(aspects) if aspect is None]
        if missing:
            raise ValueError(f"the aspect formatter needs an aspect for every text; item {missing[0]} has none "
                             "(sentence-level data: use data.formatter: {type: sentence})")
        return list(aspects)
