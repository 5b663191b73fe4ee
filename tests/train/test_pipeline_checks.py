"""What build_inputs checks before any batch is made: the formatter fits the data, the text encoder can tokenise."""

from __future__ import annotations

import pytest
from torch import nn

from clmlf.data.formatters import AspectFormatter, SentenceFormatter
from clmlf.data.samples import DatasetSplits, Sample
from clmlf.errors import SpecError
from clmlf.train.pipeline import check_formatter, text_tokenizer


def splits(aspect: str | None) -> DatasetSplits:
    samples = [Sample(id=f"p{i}", text="good", label=0, aspect=aspect if i else "food") for i in range(3)]
    return DatasetSplits(name="posts", label_names=("positive",), train=samples, dev=samples, test=samples,
                         has_images=False, metric="weighted")


def test_an_aspect_formatter_needs_aspect_data():
    check_formatter(AspectFormatter(), splits("service"), ("train", "dev", "test"))
    check_formatter(SentenceFormatter(), splits(None), ("train",))
    with pytest.raises(SpecError, match="posts/train sample 'p1' has no aspect"):
        check_formatter(AspectFormatter(), splits(None), ("train",))


def test_a_text_encoder_without_a_tokenizer_is_named(tiny_model):
    assert text_tokenizer(tiny_model)("good day")["input_ids"]
    tiny_model.text_encoder = nn.Identity()
    with pytest.raises(SpecError, match="model.text_encoder: Identity lacks tokenizer and max_length"):
        text_tokenizer(tiny_model)
