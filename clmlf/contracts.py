"""Component contracts: what each registry kind must provide, what it may provide, and the helpers consumers call.

One :class:`typing.Protocol` per kind states the required call and its output (``docs/components.md`` has one
section per kind; the loss-term contract lives in :mod:`clmlf.losses.terms`). :data:`CONTRACTS` names, in one
place, each kind's optional capabilities with what each buys and the fallback taken without it. The trainer, the
input pipeline, prediction and the experiments go through the helpers below (:func:`trainable_part`,
:func:`image_view_options`, :func:`cache_possible`, :func:`is_frozen`, ...) instead of reaching into a component's
attributes, so a third-party component with only the required surface trains, evaluates and predicts.
:func:`require` and :func:`checked_output` turn a missing required member or a wrong output type into one
:class:`~clmlf.errors.ContractError` naming the kind, the registered name, the class and the docs section.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from torch import Tensor, nn

from clmlf.errors import ContractError
from clmlf.outputs import EncoderOutput, PoolerOutput, TransformerOutput

if TYPE_CHECKING:
    from PIL import Image

    from clmlf.data.samples import DatasetSplits

logger = logging.getLogger("clmlf")


# ----------------------------------------------------------------------------------------------- required calls
class Tokenizer(Protocol):
    """Called like a Hugging Face tokenizer: ``texts`` (and ``pairs``, e.g. aspects) -> a mapping with ``input_ids``
    and ``attention_mask`` (B, L) tensors, right-padded, at most ``max_length`` long (optionally ``token_type_ids``)."""

    def __call__(self, texts: list[str], pairs: list[str] | None = None, *, max_length: int, padding: bool = True,
                 return_tensors: str = "pt", truncation: bool | str = True) -> Mapping[str, Tensor]: ...


class TextEncoder(Protocol):
    """``(input_ids (B, L), attention_mask (B, L), token_type_ids=None) -> EncoderOutput(hidden (B, L, D), mask (B, L)
    bool, pooled (B, D))``; training, evaluation and prediction also read ``tokenizer()`` and ``max_length``."""

    max_length: int

    def __call__(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> EncoderOutput: ...

    def tokenizer(self) -> Tokenizer: ...


class ImageEncoder(Protocol):
    """``(pixel_values uint8 (B, 3, H, W)) -> EncoderOutput(hidden (B, Li, D), mask (B, Li) bool, pooled (B, D))``."""

    def __call__(self, pixel_values: Tensor) -> EncoderOutput: ...


class ImageTransformer(Protocol):
    """``(hidden (B, Li, D), mask (B, Li) bool) -> TransformerOutput(hidden (B, Li, D), mask (B, Li))`` (TE_I)."""

    def __call__(self, hidden: Tensor, mask: Tensor) -> TransformerOutput: ...


class Fusion(Protocol):
    """``(text (B, Lt, D), text_mask (B, Lt), image (B, Li, D) | None, image_mask (B, Li) | None, need_weights=False)
    -> TransformerOutput(hidden (B, L, D), mask (B, L))`` (TE_M; ``image`` is None in a text-only model)."""

    def __call__(self, text: Tensor, text_mask: Tensor, image: Tensor | None, image_mask: Tensor | None,
                 need_weights: bool = False) -> TransformerOutput: ...


class Pooler(Protocol):
    """``(hidden (B, L, D), mask (B, L) bool) -> PoolerOutput(pooled (B, D), weights (B, L) | None)``."""

    def __call__(self, hidden: Tensor, mask: Tensor) -> PoolerOutput: ...


class Head(Protocol):
    """``(pooled (B, D)) -> logits (B, C)``."""

    def __call__(self, pooled: Tensor) -> Tensor: ...


class Projection(Protocol):
    """``(pooled (B, D)) -> z (B, P)`` (the contrastive projection)."""

    def __call__(self, pooled: Tensor) -> Tensor: ...


class Formatter(Protocol):
    """``(tokenizer, texts, aspects | None, max_length) -> {"input_ids", "attention_mask", ...}`` (B, L) tensors;
    ``uses_aspect`` says whether it reads the aspects."""

    uses_aspect: bool

    def __call__(self, tokenizer: Tokenizer, texts: list[str], aspects: list[str] | None, max_length: int | None) -> dict[str, Tensor]: ...


class Dataset(Protocol):
    """The registered callable: ``(**spec fields) -> DatasetSplits`` (train / dev / test samples, label names, metric)."""

    def __call__(self, **fields: Any) -> DatasetSplits: ...


class Augmentation(Protocol):
    """The built view: ``(RGB PIL image) -> uint8 (3, S, S)`` pixels."""

    def __call__(self, image: Image.Image) -> Tensor: ...


# ----------------------------------------------------------------------------------------------- the contracts
@dataclass(frozen=True)
class Capability:
    """An optional member a consumer uses when present: what it buys, and what happens without it."""

    name: str
    buys: str
    fallback: str


@dataclass(frozen=True)
class Contract:
    """A kind's protocol, the members beyond the call that consumers need (``member -> what it is``) and the
    optional capabilities."""

    protocol: type
    required: Mapping[str, str]
    capabilities: tuple[Capability, ...] = ()


TEXT_CACHE = ("features", "tokens")
IMAGE_CACHE = ("features", "tokens", "frozen")
CACHE_CAPABILITIES = {"text_encoder": TEXT_CACHE, "image_encoder": IMAGE_CACHE}
"""What a feature cache of each encoder needs (:func:`cache_possible`)."""

CONTRACTS: dict[str, Contract] = {
    "text_encoder": Contract(TextEncoder, {
        "tokenizer": "tokenizer() -> a callable used like a Hugging Face tokenizer (training, evaluation and prediction "
                     "tokenise with it)",
        "max_length": "max_length: int, the longest tokenised input",
    }, (
        Capability("backbone", "its own parameter group (train.text_encoder_lr), the two-stage freeze "
                   "(train.text_freeze_epochs) of the backbone only, train.compile layer by layer, cache fingerprints "
                   "of the backbone's weights", "the whole encoder is the text part"),
        Capability(" / ".join(TEXT_CACHE), "the text-state cache (data.cache_text_features): frozen epochs start from "
                   "stored states", "no cache, one warning; every step tokenises and runs the encoder"),
        Capability("frozen", "frozen: true means the text is frozen in every epoch (its cache then serves them all)",
                   "frozen only during train.text_freeze_epochs"),
        Capability("frozen_layers", "with the text cache, fine-tuning epochs start from the states after that many "
                   "layers (features/tokens with depth=k)", "0: no such cache"),
        Capability("config.max_position_embeddings", "input_ids longer than the encoder's positions are refused, "
                   "naming max_length (read from the encoder's or its backbone's config)", "no length check"),
        Capability("tokenizer().convert_ids_to_tokens / all_special_tokens", "word -> image-patch attention maps "
                   "(clmlf visualize)", "no maps, one warning; the t-SNE and cases are still written"),
        Capability("save_assets", "save_pretrained copies the files rebuilding it needs into the checkpoint and its "
                   "spec points there (relative paths)", "the checkpoint's spec names the original files"),
    )),
    "image_encoder": Contract(ImageEncoder, {}, (
        Capability("data_config", "the views' resize policy (crop_pct, interpolation) at data.image_size",
                   "resize the shorter side to data.image_size, centre crop, bilinear"),
        Capability(" / ".join(IMAGE_CACHE), "the image feature cache (data.cache_image_features) of a frozen "
                   "encoder", "no cache, one warning; every step reads pixels"),
        Capability("backbone", "its own parameter group (train.image_encoder_lr), train.compile, cache fingerprints "
                   "of the backbone's weights", "the whole encoder is the image part"),
        Capability("pixel_mean", "pixel_values are checked against its channel count, and float pixels against the "
                   "parameters' dtype", "3 channels; uint8 or any float pixels accepted"),
        Capability("token_layout", "legacy_view: tokens are not image positions, so no attention maps",
                   "spatial: the last s x s tokens are the image grid"),
        Capability("save_assets", "save_pretrained copies the files rebuilding it needs into the checkpoint (or clears "
                   "spec fields its weights replace)", "the checkpoint's spec names the original files"),
        Capability("fixed_size", "clmlf validate / train refuse another data.image_size up front, naming the fixes",
                   "any size; a backbone that refuses one fails in the forward pass clmlf validate runs"),
    )),
    "image_transformer": Contract(ImageTransformer, {}),
    "fusion": Contract(Fusion, {}, (
        Capability("attentions", "per-layer (B, H, L, L) maps when need_weights=True: attention maps in clmlf visualize",
                   "None: no maps, one warning"),
    )),
    "pooler": Contract(Pooler, {}, (
        Capability("weights", "PoolerOutput.weights (B, L) reach CLMLFOutput.pooling_weights", "None"),
    )),
    "head": Contract(Head, {}),
    "projection": Contract(Projection, {}),
    "formatter": Contract(Formatter, {"uses_aspect": "uses_aspect: bool, whether the formatter reads aspects"}),
    "dataset": Contract(Dataset, {}, (
        Capability("root", "a spec field root: data.root and --root reach the dataset", "data.root is refused"),
        Capability("images", "a spec field images: false makes clmlf ablate run the text-only ladder",
                   "the dataset is taken to have images when the model reads them"),
    )),
    "augmentation": Contract(Augmentation, {}, (
        Capability("image_size / crop_pct / interpolation", "spec fields left unset are filled from data.image_size "
                   "and the image encoder's view policy", "the augmentation's own values"),
    )),
}


# ----------------------------------------------------------------------------------------------- checks
def part_name(model: nn.Module, field: str) -> str | None:
    """The registered name (the spec's ``type``) of ``model``'s part ``field``, None for a model built without a spec."""
    spec = getattr(model, "spec", None)
    part = getattr(spec, field, None)
    return getattr(part, "type", None)


def part_kind(field: str) -> str:
    """The registry kind of a model field (``augmented_projection`` is a ``projection``)."""
    return "projection" if field == "augmented_projection" else field


def require(component: Any, kind: str, name: str | None, *members: str) -> None:
    """Raise one :class:`ContractError` listing the ``members`` of ``kind``'s contract that ``component`` lacks."""
    missing = [member for member in members if not hasattr(component, member)]
    if missing:
        needed = "; ".join(CONTRACTS[kind].required.get(member, member) for member in missing)
        raise ContractError(kind, name, type(component), f"lacks {' and '.join(missing)} (needed: {needed})")


def require_part(model: nn.Module, field: str, *members: str) -> Any:
    """``model``'s part ``field`` after :func:`require` of ``members``."""
    component = getattr(model, field)
    require(component, part_kind(field), part_name(model, field), *members)
    return component


def checked_output(model: nn.Module, field: str, output: Any, expected: type) -> Any:
    """``output`` of ``model``'s part ``field`` if it is an ``expected`` instance, else a :class:`ContractError`
    (a tuple where an :class:`EncoderOutput` belongs fails here, not as an AttributeError further on)."""
    if not isinstance(output, expected):
        raise ContractError(part_kind(field), part_name(model, field), type(getattr(model, field)),
                            f"returned a {type(output).__name__}; it must return {expected.__module__}.{expected.__name__}")
    return output


# ----------------------------------------------------------------------------------------------- capabilities
def trainable_part(encoder: nn.Module) -> nn.Module:
    """The encoder's ``backbone`` (its pretrained part: own learning rate, freeze schedule, compile unit, cache
    fingerprint) when it has one, else the whole encoder."""
    backbone = getattr(encoder, "backbone", None)
    return backbone if isinstance(backbone, nn.Module) else encoder


def is_frozen(encoder: nn.Module) -> bool:
    """Whether the encoder says it is frozen for good (``frozen``); False when it says nothing."""
    return bool(getattr(encoder, "frozen", False))


def frozen_layers(encoder: nn.Module) -> int:
    """How many bottom layers the encoder froze for good (``frozen_layers``); 0 when it says nothing."""
    return int(getattr(encoder, "frozen_layers", 0) or 0)


INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
PLAIN_VIEW = {"crop_pct": 1.0, "interpolation": "bilinear"}
"""The view of an image encoder without ``data_config``: shorter side resized to the image size, centre crop."""


def image_view_options(image_encoder: nn.Module, image_size: int) -> dict:
    """Resize policy of the image views at ``image_size``: the encoder's ``data_config`` (crop_pct, interpolation)
    when it has one, else :data:`PLAIN_VIEW` (the encoder normalises the uint8 pixels itself)."""
    config = getattr(image_encoder, "data_config", None)
    crop_pct = getattr(config, "crop_pct", PLAIN_VIEW["crop_pct"])
    interpolation = getattr(config, "interpolation", PLAIN_VIEW["interpolation"])
    return {"image_size": image_size, "crop_pct": crop_pct,
            "interpolation": interpolation if interpolation in INTERPOLATIONS else "bilinear"}


def cache_possible(model: nn.Module, field: str, setting: str) -> bool:
    """Whether ``model``'s encoder ``field`` has what a feature cache needs (:data:`CACHE_CAPABILITIES`); if not,
    one warning names the config ``setting`` that asked and the missing capability, and training goes on without."""
    encoder = getattr(model, field)
    missing = [member for member in CACHE_CAPABILITIES[field] if not hasattr(encoder, member)]
    if missing:
        name = part_name(model, field)
        logger.warning("%s: %s%s (%s) has no %s, so nothing is cached: training goes on without the cache "
                       "(docs/components.md#%s)", setting, field, f" {name!r}" if name else "", type(encoder).__name__,
                       "/".join(missing), field)
    return not missing
