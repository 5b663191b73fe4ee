"""The tokenizer of a Hugging Face text encoder, refused up front when it cannot feed the model."""

from __future__ import annotations

from clmlf.encoders.hf_config import first_line, quiet_transformers

FIELD = "model.text_encoder.tokenizer_name"


def load_tokenizer(name: str, config):
    """``AutoTokenizer.from_pretrained(name)``, checked against the model's ``config`` (:func:`tokenizer_problem`);
    every failure is a ValueError naming :data:`FIELD` and the fix."""
    from transformers import AutoTokenizer

    try:
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError, TypeError) as error:
        raise ValueError(f"{FIELD}: cannot load a tokenizer from {name!r} ({first_line(error)}); set tokenizer_name to "
                         f"a local folder holding the {config.model_type} tokenizer files (docs/encoders.md#tokenizers)") from None
    problem = tokenizer_problem(tokenizer, config)
    if problem:
        raise ValueError(f"{FIELD}: the tokenizer {name!r} ({type(tokenizer).__name__}) {problem}")
    return tokenizer


def tokenizer_problem(tokenizer, config) -> str | None:
    """Why ``tokenizer`` cannot feed a model of ``config``, or None: ids past the model's embeddings, no padding
    token, or a padding id other than the model's (a tokenizer of another family: BERT WordPiece pads with 0, a
    RoBERTa / XLM-R / MPNet model with 1 and counts its position ids from there)."""
    family = f"the {config.model_type} model"
    size, vocab = len(tokenizer), getattr(config, "vocab_size", None)
    if isinstance(vocab, int) and size > vocab:
        return (f"has {size} tokens but {family} embeds only {vocab}: its ids would index past the embeddings; use the "
                f"model's own tokenizer (for a random model, or raise model.text_encoder.config_overrides.vocab_size)")
    if tokenizer.pad_token_id is None:
        return "has no padding token, which batches need; use an encoder model's tokenizer"
    pad = getattr(config, "pad_token_id", None)
    if pad is not None and tokenizer.pad_token_id != pad:
        return (f"pads with id {tokenizer.pad_token_id} but {family} pads with {pad}: it belongs to another model family "
                f"(e.g. a BERT WordPiece tokenizer for a RoBERTa model); use the {config.model_type} tokenizer "
                f"(docs/encoders.md#tokenizers)")
    return None
