"""Which Hugging Face encoder a ``text_encoder`` spec names: its config (hub name, local folder, or a known
architecture rebuilt offline for ``pretrained: false``) and how its model class is built."""

from __future__ import annotations

import difflib
import inspect
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROBERTA_STYLE = {"max_position_embeddings": 514, "type_vocab_size": 1, "pad_token_id": 1, "bos_token_id": 0,
                 "eos_token_id": 2, "layer_norm_eps": 1e-5}
OFFLINE_CONFIGS: dict[str, dict[str, Any]] = {
    "bert-base-uncased": {"model_type": "bert"},
    "bert-large-uncased": {"model_type": "bert", "hidden_size": 1024, "num_hidden_layers": 24,
                           "num_attention_heads": 16, "intermediate_size": 4096},
    "distilbert-base-uncased": {"model_type": "distilbert"},
    "google/electra-base-discriminator": {"model_type": "electra", "embedding_size": 768, "hidden_size": 768,
                                          "num_attention_heads": 12, "intermediate_size": 3072},
    "roberta-base": {"model_type": "roberta", "vocab_size": 50265, **ROBERTA_STYLE},
    "xlm-roberta-base": {"model_type": "xlm-roberta", "vocab_size": 250002, **ROBERTA_STYLE},
    "microsoft/mpnet-base": {"model_type": "mpnet", "vocab_size": 30527, **ROBERTA_STYLE},
    "microsoft/deberta-v3-base": {"model_type": "deberta-v2", "vocab_size": 128100, "relative_attention": True,
                                  "max_relative_positions": -1, "position_buckets": 256, "norm_rel_ebd": "layer_norm",
                                  "share_att_key": True, "pos_att_type": ["p2c", "c2p"], "position_biased_input": False,
                                  "type_vocab_size": 0, "layer_norm_eps": 1e-7},
    "albert-base-v2": {"model_type": "albert", "hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072,
                       "embedding_size": 128, "vocab_size": 30000, "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3},
}
"""Architectures whose config is known offline, so ``pretrained: false`` builds them with no hub access (their
published sizes; ``config_overrides`` shrink them for tests)."""
UNCASED_WORDPIECE = frozenset({"bert-base-uncased", "bert-large-uncased", "distilbert-base-uncased",
                               "google/electra-base-discriminator"})
"""Names of :data:`OFFLINE_CONFIGS` that share the uncased BERT WordPiece vocabulary of the packaged MiniLM tokenizer."""


def offline_tokenizer_dir(model_name: str) -> str | None:
    """A local tokenizer for the uncased BERT vocabularies (the packaged MiniLM one), else None."""
    if model_name in UNCASED_WORDPIECE:
        from clmlf.encoders.text_offline import minilm_dir

        return minilm_dir()
    return None


def load_hf_config(model_name: str, overrides: dict[str, Any]):
    """The transformers config for ``model_name`` (offline table first, then local dir / cache / hub); a name that
    cannot be resolved is a ValueError naming ``model.text_encoder.model_name`` and the ways out."""
    from transformers import AutoConfig

    if model_name in OFFLINE_CONFIGS:
        known = dict(OFFLINE_CONFIGS[model_name])
        config = AutoConfig.for_model(known.pop("model_type"), **{**known, **overrides})
    else:
        try:
            with quiet_transformers():
                config = AutoConfig.from_pretrained(model_name, **overrides)
        except (OSError, ValueError) as error:
            where = "the folder" if Path(model_name).exists() else "the hub name (not cached, and the hub is unreachable?)"
            raise ValueError(
                f"model.text_encoder.model_name: cannot load the transformers config of {model_name!r} from {where}: "
                f"{first_line(error)}; pass a local model folder, a name known offline with pretrained: false "
                f"({', '.join(sorted(OFFLINE_CONFIGS))}), or use type: minilm (docs/encoders.md)"
            ) from None
    check_overrides(config, overrides)
    check_encoder_only(config, model_name)
    return config


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def check_overrides(config, overrides: dict[str, Any]) -> None:
    """Refuse ``config_overrides`` keys the config class does not know (transformers would keep a typo silently):
    known are its fields, the constructor arguments of the class and of ``PretrainedConfig``, the aliases of its
    ``attribute_map`` (DistilBERT's ``hidden_size`` for ``dim``) and settings kept as private attributes
    (``attn_implementation``)."""
    from transformers import PretrainedConfig

    default = type(config)()
    known = {*default.to_dict(), *type(config).attribute_map, *inspect.signature(type(config).__init__).parameters,
             *inspect.signature(PretrainedConfig.__init__).parameters}
    unknown = [key for key in overrides if key not in known and not hasattr(default, key) and not hasattr(default, f"_{key}")]
    if unknown:
        hints = [f"{key!r}" + (f" (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(key, known, 1)) else "")
                 for key in unknown]
        raise ValueError(f"model.text_encoder.config_overrides: {type(config).__name__} has no field {', '.join(hints)}")


def check_encoder_only(config, model_name: str) -> None:
    """Refuse encoder-decoder models (T5, BART): their ``AutoModel`` needs decoder inputs and has no token states of
    the text alone."""
    if getattr(config, "is_encoder_decoder", False):
        raise ValueError(f"model.text_encoder.model_name: {model_name!r} is an encoder-decoder model "
                         f"({config.model_type}); the text encoder takes encoder-only models (BERT, RoBERTa, DeBERTa, ...)")


def model_class(config):
    """The ``AutoModel`` class of ``config`` (ValueError naming the model type where transformers has none)."""
    from transformers import MODEL_MAPPING

    try:
        return MODEL_MAPPING[type(config)]
    except KeyError:
        raise ValueError(f"model.text_encoder.model_name: transformers has no AutoModel for model type "
                         f"{config.model_type!r}") from None


def build_kwargs(config) -> dict[str, Any]:
    """Constructor keywords for the model class: ``add_pooling_layer=False`` where it takes one (BERT, RoBERTa,
    XLM-R, MPNet, ALBERT build an unused pooler otherwise; DistilBERT, DeBERTa, ELECTRA have none)."""
    accepts = "add_pooling_layer" in inspect.signature(model_class(config).__init__).parameters
    return {"add_pooling_layer": False} if accepts else {}


def uses_token_types(backbone) -> bool:
    """Whether ``token_type_ids`` reach the backbone: its ``forward`` takes them and its config has more than one
    type (RoBERTa / XLM-R have one, DeBERTa-v3 none, DistilBERT and MPNet no argument; dropping the ids then is
    the family's own rule: every token is type 0)."""
    takes = "token_type_ids" in inspect.signature(backbone.forward).parameters
    return takes and (getattr(backbone.config, "type_vocab_size", 0) or 0) > 1


@contextmanager
def quiet_transformers():
    """Silence transformers' info/warning logs and progress bars for the duration."""
    from transformers.utils import logging

    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        logging.enable_progress_bar()
