import pytest
from transformers import AutoTokenizer

from clmlf.data.formatters import AspectFormatter, SentenceFormatter
from clmlf.encoders.text_offline import minilm_dir


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(minilm_dir())


def tokens(tokenizer, ids):
    return tokenizer.convert_ids_to_tokens([i for i in ids if i != tokenizer.pad_token_id])


def test_sentence_format(tokenizer):
    batch = SentenceFormatter()(tokenizer, ["Good day", "bad"], max_length=16)
    assert tokens(tokenizer, batch["input_ids"][0]) == ["[CLS]", "good", "day", "[SEP]"]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]


def test_aspect_format_keeps_the_aspect_when_truncating(tokenizer):
    batch = AspectFormatter()(tokenizer, ["the food was great but service slow"], ["service"], max_length=7)
    assert tokens(tokenizer, batch["input_ids"][0]) == ["[CLS]", "the", "food", "was", "[SEP]", "service", "[SEP]"]
    assert batch["token_type_ids"][0].tolist() == [0, 0, 0, 0, 0, 1, 1]


def test_aspect_format_needs_one_aspect_per_text(tokenizer):
    with pytest.raises(ValueError, match="one aspect per text: 2 texts, no aspects"):
        AspectFormatter()(tokenizer, ["a", "b"])


def test_aspect_format_refuses_a_missing_aspect(tokenizer):
    with pytest.raises(ValueError, match="item 1 has none"):
        AspectFormatter()(tokenizer, ["a", "b"], ["x", None])
