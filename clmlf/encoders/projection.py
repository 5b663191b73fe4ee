"""Token projection from an encoder's width to ``d_model`` (reference code: Linear + GELU on every token)."""

from __future__ import annotations

from typing import Literal

from torch import nn

from clmlf.checks import check_choice

TokenProjection = Literal["linear_gelu", "linear", "none"]


def token_projection(in_dim: int, d_model: int, kind: TokenProjection) -> nn.Module:
    """(..., in_dim) -> (..., d_model). ``"none"`` needs ``in_dim == d_model``."""
    check_choice("projection", kind, TokenProjection)
    if kind == "none":
        if in_dim != d_model:
            raise ValueError(f"projection 'none' needs the encoder width ({in_dim}) to equal d_model ({d_model})")
        return nn.Identity()
    linear = nn.Linear(in_dim, d_model)
    return nn.Sequential(linear, nn.GELU()) if kind == "linear_gelu" else linear


def freeze_module(module: nn.Module) -> None:
    """Stop gradients into ``module`` for good (its BatchNorm mode is handled by the owner's ``train()``); the
    training schedule never unfreezes what it did not freeze (:func:`clmlf.train.optim.set_text_encoder_trainable`)."""
    for parameter in module.parameters():
        parameter.requires_grad_(False)
