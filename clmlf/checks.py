"""Input checks shared by the model and its components: each refuses a malformed input with a ValueError /
TypeError naming the argument and the expected shape, before any kernel runs. They read shapes and dtypes only
(no device sync, plain Python that ``torch.compile`` traces away)."""

from __future__ import annotations

from typing import Any, get_args

import torch
from torch import Tensor, nn


def shape_of(tensor: Tensor) -> tuple[int, ...]:
    return tuple(tensor.shape)


def check_token_ids(input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None, max_positions: int | None) -> None:
    """input_ids (B, Lt) of int64/int32 token ids, at most ``max_positions`` long; attention_mask and token_type_ids
    of the same (B, Lt) shape."""
    if input_ids.dim() != 2:
        hint = " (one text: input_ids[None])" if input_ids.dim() == 1 else ""
        raise ValueError(f"input_ids must be 2-D (B, Lt), got shape {shape_of(input_ids)}{hint}")
    if input_ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"input_ids must hold integer token ids (torch.int64 or torch.int32), got {input_ids.dtype}; "
                        "pass input_ids.long()")
    for name, tensor in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
        if tensor is not None and tensor.shape != input_ids.shape:
            raise ValueError(f"{name} must have the shape (B, Lt) = {shape_of(input_ids)} of input_ids, got "
                             f"{shape_of(tensor)}; make both in the same tokenizer call")
    if max_positions is not None and input_ids.shape[1] > max_positions:
        raise ValueError(f"input_ids has length {input_ids.shape[1]} but the text encoder has {max_positions} positions "
                         f"(from config.max_position_embeddings); truncate the texts, e.g. set model.text_encoder.max_length "
                         f"<= {max_positions}")


def check_text_features(text_features: Tensor, attention_mask: Tensor) -> None:
    """Cached text backbone states (B, Lt, H) with an attention_mask (B, Lt)."""
    if text_features.dim() != 3:
        raise ValueError(f"text_features must be cached text backbone states (B, Lt, H), got shape {shape_of(text_features)}")
    if attention_mask.shape != text_features.shape[:2]:
        raise ValueError(f"attention_mask must have the shape (B, Lt) = {shape_of(text_features)[:2]} of text_features, "
                         f"got {shape_of(attention_mask)}")


def check_image_features(image_features: Tensor) -> Tensor:
    """Cached backbone output: a feature map (B, C, h, w) or tokens (B, N, C)."""
    if image_features.dim() not in (3, 4):
        raise ValueError(f"image_features must be a cached feature map (B, C, h, w) or tokens (B, N, C), "
                         f"got shape {shape_of(image_features)}")
    return image_features


def pixel_expectations(image_encoder: nn.Module) -> tuple[int, torch.dtype | None]:
    """What an encoder that normalises pixels itself says through its ``pixel_mean`` (1, C, 1, 1): the channel count
    C and the dtype of its parameters that float pixels must have (None without parameters). An encoder without
    ``pixel_mean`` says nothing: 3 channels, uint8 or any float pixels (docs/components.md#image_encoder)."""
    mean = getattr(image_encoder, "pixel_mean", None)
    if mean is None:
        return 3, None
    parameter = next(image_encoder.parameters(), None)
    return mean.shape[1], (None if parameter is None else parameter.dtype)


def check_pixels(pixel_values: Tensor, channels: int, dtype: torch.dtype | None) -> Tensor:
    """pixel_values (B, C, H, W): uint8 (normalised by the encoder) or normalised floats of the encoder's ``dtype``
    (any float dtype under autocast, which casts for the backbone)."""
    if pixel_values.dim() != 4 or pixel_values.shape[1] != channels:
        hint = " (one image: pixel_values[None])" if pixel_values.dim() == 3 else ""
        raise ValueError(f"pixel_values must be (B, {channels}, H, W), got shape {shape_of(pixel_values)}{hint}")
    if pixel_values.dtype == torch.uint8:
        return pixel_values
    if not pixel_values.is_floating_point():
        raise TypeError(f"pixel_values must be uint8 pixels or normalised floats, got {pixel_values.dtype}; "
                        "pass pixel_values.to(torch.uint8) for raw 0-255 values")
    if dtype is not None and pixel_values.dtype != dtype and not torch.is_autocast_enabled(pixel_values.device.type):
        raise TypeError(f"pixel_values are {pixel_values.dtype} but the image encoder's parameters are {dtype}; "
                        f"pass pixel_values.to({dtype}) (or uint8 pixels, which the encoder normalises itself)")
    return pixel_values


def check_batch_sizes(inputs: dict[str, Tensor]) -> None:
    """Every input holds the same number of samples B along dim 0 (the first input names the expected B)."""
    (first, reference), *others = inputs.items()
    for name, tensor in others:
        if tensor.shape[0] != reference.shape[0]:
            raise ValueError(f"{first} has batch {reference.shape[0]} but {name} has {tensor.shape[0]}; "
                             "pass the same samples, in the same order, to every input")


OFFSET_POSITIONS = frozenset({"roberta", "xlm-roberta", "camembert", "roberta-prelayernorm", "data2vec-text", "xmod", "longformer",
                              "mpnet"})
"""Model types whose position ids start after the padding id (RoBERTa family, BERTweet, MPNet): pad_token_id + 1 of
their ``max_position_embeddings`` hold no token position."""


def max_text_positions(text_encoder: nn.Module) -> int | None:
    """How many tokens the text encoder's (or its ``backbone``'s) config has positions for, None where it exposes
    no ``max_position_embeddings`` (then no length is checked; docs/components.md#text_encoder)."""
    config = getattr(text_encoder, "config", None) or getattr(getattr(text_encoder, "backbone", None), "config", None)
    limit = getattr(config, "max_position_embeddings", None)
    if not isinstance(limit, int):
        return None
    if getattr(config, "model_type", None) in OFFSET_POSITIONS:
        limit -= (getattr(config, "pad_token_id", None) or 0) + 1
    return limit


def check_choice(name: str, value: Any, choices: Any) -> None:
    """Refuse ``value`` outside ``choices`` (a ``Literal`` type or a tuple), as a spec would, naming the argument."""
    options = get_args(choices) or tuple(choices)
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}")


def check_sequence(hidden: Tensor, mask: Tensor, width: int | None = None, names: tuple[str, str] = ("hidden", "mask")) -> Tensor:
    """A token sequence ``hidden`` (B, L, D) with its padding ``mask`` (B, L), True (or 1) where a token is real, and
    D = ``width`` when given; returns the mask as bool. ``names`` are the caller's argument names for the messages.
    Float masks are refused: an additive attention mask (0 / -inf) or a key-padding mask (True = pad) would be read
    the wrong way round."""
    hidden_name, mask_name = names
    if hidden.dim() != 3:
        raise ValueError(f"{hidden_name} must be a token sequence (B, L, D), got shape {shape_of(hidden)}")
    if width is not None and hidden.shape[2] != width:
        raise ValueError(f"{hidden_name} has width D={hidden.shape[2]} but the module was built with d_model={width}")
    if mask.shape != hidden.shape[:2]:
        raise ValueError(f"{mask_name} must have the shape (B, L) = {shape_of(hidden)[:2]} of {hidden_name}, got {shape_of(mask)}")
    if mask.is_floating_point() or mask.is_complex():
        raise TypeError(f"{mask_name} must be bool (True for real tokens) or 0/1 integers, got {mask.dtype}")
    return mask.bool()
