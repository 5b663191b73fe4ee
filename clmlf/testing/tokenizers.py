"""Tiny word-level tokenizers in the special-token layout of a model family, for random text encoders offline
(``model.text_encoder.tokenizer_name`` pointing at the folder written here)."""

from __future__ import annotations

from pathlib import Path

from clmlf.testing.posts import WORDS

LAYOUTS = {
    "bert": {"specials": ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"), "single": "[CLS] $A [SEP]",
             "pair": "[CLS] $A [SEP] $B:1 [SEP]:1", "token_types": True},
    "roberta": {"specials": ("<s>", "<pad>", "</s>", "<unk>", "<mask>"), "single": "<s> $A </s>",
                "pair": "<s> $A </s> </s> $B </s>", "token_types": False},
}
"""Special tokens (in id order: the padding id is the family's), templates and token types of the two layouts:
``bert`` for BERT, DistilBERT, ELECTRA, DeBERTa, ALBERT (pad id 0); ``roberta`` for RoBERTa, XLM-R, MPNet (pad id 1)."""
ROBERTA_LAYOUT = frozenset({"roberta", "xlm-roberta", "mpnet", "camembert"})


def layout_of(model_type: str) -> str:
    """The :data:`LAYOUTS` key of a transformers ``model_type``."""
    return "roberta" if model_type in ROBERTA_LAYOUT else "bert"


def write_tiny_tokenizer(folder: str | Path, model_type: str = "bert", words: tuple[str, ...] = ()) -> Path:
    """Save a lower-casing, whitespace-splitting word-level tokenizer with the special tokens of ``model_type``'s
    family and the words of :func:`clmlf.testing.write_posts` (+ ``words``; others map to the unknown token) into
    ``folder``. Its vocabulary is small (tens of tokens): any config's ``vocab_size`` holds it. Returns ``folder``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    layout = LAYOUTS[layout_of(model_type)]
    cls, pad, sep, unk, mask = (layout["specials"][index] for index in ((0, 1, 2, 3, 4) if layout_of(model_type) == "roberta" else (2, 0, 3, 1, 4)))
    vocabulary = [*layout["specials"], *dict.fromkeys(word for group in WORDS.values() for word in group), *words]
    core = Tokenizer(models.WordLevel({token: index for index, token in enumerate(vocabulary)}, unk_token=unk))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single=layout["single"], pair=layout["pair"], special_tokens=[(token, vocabulary.index(token)) for token in (cls, sep)])
    inputs = ["input_ids", "attention_mask", *(["token_type_ids"] if layout["token_types"] else [])]
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, cls_token=cls, sep_token=sep, pad_token=pad, unk_token=unk,
                                        mask_token=mask, bos_token=cls, eos_token=sep, model_input_names=inputs)
    tokenizer.save_pretrained(folder)
    return Path(folder)
