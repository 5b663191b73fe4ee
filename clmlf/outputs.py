"""Typed outputs shared by the components (never bare tuples)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class EncoderOutput:
    """Token-level encoder output.

    hidden: (B, L, D) token states; mask: (B, L) bool, True where a token is real; pooled: (B, D) or None.
    """

    hidden: Tensor
    mask: Tensor
    pooled: Tensor | None = None


@dataclass
class TransformerOutput:
    """hidden: (B, L, D); mask: (B, L) bool; attentions: one (B, H, L, L) tensor per layer when requested."""

    hidden: Tensor
    mask: Tensor
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class PoolerOutput:
    """pooled: (B, D); weights: (B, L) pooling weights (rows sum to 1 over real tokens) or None."""

    pooled: Tensor
    weights: Tensor | None = None


@dataclass
class CLMLFOutput:
    """logits: (B, C); pooled: (B, D); fused: (B, Lt+Li, D) with fused_mask (B, Lt+Li);
    z: (B, P) contrastive projection or None; attention: fusion attentions per layer (B, H, L, L) when requested;
    pooling_weights: (B, Lt+Li) or None; num_text_tokens: Lt (image tokens follow the text tokens)."""

    logits: Tensor
    pooled: Tensor
    fused: Tensor
    fused_mask: Tensor
    z: Tensor | None = None
    attention: tuple[Tensor, ...] | None = None
    pooling_weights: Tensor | None = None
    num_text_tokens: int = 0
