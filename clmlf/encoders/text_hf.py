"""Text encoder around any encoder-only Hugging Face ``AutoModel`` (BERT, RoBERTa, XLM-R, DistilBERT, DeBERTa-v2/v3,
ELECTRA, MPNet, ALBERT, ...): token-level states + mask."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from torch import Tensor, nn

from clmlf.checks import check_text_features, check_token_ids, max_text_positions
from clmlf.encoders.hf_config import build_kwargs, load_hf_config, offline_tokenizer_dir, quiet_transformers, uses_token_types
from clmlf.encoders.hf_tokenizer import load_tokenizer
from clmlf.encoders.layer_range import layer_range, layer_stack, layers_of
from clmlf.encoders.projection import TokenProjection, freeze_module, token_projection
from clmlf.outputs import EncoderOutput
from clmlf.spec import ComponentSpec


def freeze_bottom_layers(backbone: nn.Module, count: int) -> None:
    """Freeze the embeddings (and any embedding projection) and the first ``count`` Transformer layers of
    ``backbone`` (a family with a layer list, :func:`clmlf.encoders.layer_range.layer_stack`)."""
    if layer_stack(backbone) is None or not hasattr(backbone, "embeddings"):
        raise ValueError(f"model.text_encoder.freeze_layers: {type(backbone).__name__} has no .embeddings and list of "
                         "separate layers (ALBERT shares one layer across its depth); use freeze: true or freeze_layers: 0")
    layers = layers_of(backbone)
    if count > len(layers):
        raise ValueError(f"model.text_encoder.freeze_layers: {count} exceeds the model's {len(layers)} layers")
    for module in (backbone.embeddings, getattr(backbone, "embeddings_project", None), *layers[:count]):
        if module is not None:
            freeze_module(module)


TINY_BERT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
"""``config_overrides`` of the tiny random BERT that tests and examples build."""


class TextEncoderOptions(ComponentSpec):
    """Fields every :class:`HFTextEncoder` spec shares (not registered itself; ``d_model: None`` is the backbone's
    hidden size). ``max_length``: the reference truncates to 200 word pieces."""

    pretrained: bool = Field(True, description="load the pretrained weights; false builds random weights from the config")
    config_overrides: dict[str, Any] = Field(default_factory=dict, description="transformers config fields to change, e.g. "
                                             "{hidden_size: 32, num_hidden_layers: 2} for a tiny random model; unknown keys are refused")
    d_model: int | None = Field(None, description="width of the projected tokens; null: model.d_model")
    projection: TokenProjection = Field("linear_gelu", description="how each token reaches d_model: linear_gelu (reference code), linear or none")
    freeze: bool = Field(False, description="no gradients into the backbone in any epoch")
    freeze_layers: int = Field(0, ge=0, description="freeze the embeddings and the first k layers for good (families with separate layers)")
    max_length: int = Field(200, ge=4, description="longest tokenised input, special tokens included (reference: 200)")


class HFTextEncoderSpec(TextEncoderOptions):
    type: Literal["hf"] = "hf"
    model_name: str = Field("bert-base-uncased", description="a Hugging Face hub name, a local model folder, or an "
                            "architecture known offline for pretrained: false (docs/encoders.md)")
    tokenizer_name: str | None = Field(None, description="hub name or folder of the tokenizer; null: model_name (the "
                                       "packaged MiniLM tokenizer for the uncased BERT vocabularies)")

    @classmethod
    def example(cls) -> dict[str, Any]:
        from clmlf.encoders.text_offline import minilm_dir

        return {"model_name": minilm_dir(), "pretrained": False, "config_overrides": TINY_BERT}


class HFTextEncoder(nn.Module):
    """Any encoder-only transformers model by hub name, local folder or offline architecture name
    (:data:`clmlf.encoders.hf_config.OFFLINE_CONFIGS`) -> (B, L, d_model) token states; pooled = the first token
    ([CLS] / <s>) in every family.

    ``freeze`` stops gradients into the whole backbone; ``freeze_layers=k`` only into the embeddings and the
    first k layers (backward stops there: cheaper fine-tuning on CPU). A text cache can then hold the states after
    those k layers (:meth:`features` with ``depth=k``) and training run only the layers above (:meth:`tokens`);
    families without a list of separate layers (ALBERT) offer neither. ``token_type_ids`` reach the backbone only
    where the family has several token types (:func:`clmlf.encoders.hf_config.uses_token_types`).
    ``pretrained=False`` builds a random model from the config (+ ``config_overrides``: tiny test models).
    Every token goes through ``projection`` (reference code: Linear + GELU). ``max_length`` (reference: 200
    word pieces) is read by the collator; :meth:`tokenizer` loads the matching tokenizer lazily and refuses one of
    another family (:func:`clmlf.encoders.hf_tokenizer.tokenizer_problem`).
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
                self.backbone = AutoModel.from_pretrained(model_name, config=config, **build_kwargs(config))
        else:
            self.backbone = AutoModel.from_config(config, **build_kwargs(config))
        self.token_types = uses_token_types(self.backbone)
        hidden = self.backbone.config.hidden_size
        self.d_model = d_model or hidden
        self.project = token_projection(hidden, self.d_model, projection)
        if freeze:
            freeze_module(self.backbone)
        elif freeze_layers:
            freeze_bottom_layers(self.backbone, freeze_layers)
        self._tokenizer = None

    def tokenizer(self):
        """The Hugging Face tokenizer matching the backbone (loaded and checked once)."""
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.tokenizer_name, self.backbone.config)
        return self._tokenizer

    def save_assets(self, folder: Path, spec: ComponentSpec) -> dict[str, str | None]:
        """Write the backbone's config and the tokenizer's files into ``folder`` (a checkpoint's ``text_encoder/``)
        and return the fields of ``spec`` that then point there, relative to ``folder`` (none for a spec without
        ``model_name``, like ``minilm``, whose files ship with a package)."""
        if "model_name" not in type(spec).model_fields:
            return {}
        self.backbone.config.save_pretrained(folder)
        self.tokenizer().save_pretrained(folder)
        return {"model_name": ".", "tokenizer_name": "."}

    @property
    def frozen(self) -> bool:
        return not any(parameter.requires_grad for parameter in self.backbone.parameters())

    @property
    def num_layers(self) -> int:
        return len(layers_of(self.backbone))

    def features(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None,
                 depth: int | None = None) -> Tensor:
        """(B, L) ids -> backbone states (B, L, H) after the first ``depth`` layers (None: all), before the
        projection (what a text-feature cache stores)."""
        kwargs = {"token_type_ids": token_type_ids} if self.token_types and token_type_ids is not None else {}
        backbone = self.backbone if depth is None else layer_range(self.backbone, None, depth)
        return backbone(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state

    def tokens(self, features: Tensor, attention_mask: Tensor, depth: int | None = None) -> EncoderOutput:
        """Backbone states (B, L, H), fresh or cached, after ``depth`` layers (None: all; the remaining layers run
        here) -> hidden (B, L, d_model), mask (B, L), pooled = the first token."""
        check_text_features(features, attention_mask)
        if depth is not None and depth < self.num_layers:
            features = features.to(next(self.backbone.parameters()).dtype)
            features = layer_range(self.backbone, depth, self.num_layers)(inputs_embeds=features, attention_mask=attention_mask).last_hidden_state
        hidden = self.project(features.to(next(self.project.parameters(), features).dtype))
        return EncoderOutput(hidden, attention_mask.bool(), hidden[:, 0])

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> EncoderOutput:
        """input_ids, attention_mask, token_type_ids: (B, L) -> hidden (B, L, d_model), mask (B, L), pooled = the
        first token. Malformed inputs raise, naming the argument (:func:`clmlf.checks.check_token_ids`)."""
        check_token_ids(input_ids, attention_mask, token_type_ids, max_text_positions(self))
        return self.tokens(self.features(input_ids, attention_mask, token_type_ids), attention_mask)
