"""TE_I: the image Transformer encoder over projected image tokens (paper Eq. 2-3)."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from clmlf.checks import check_sequence
from clmlf.fusion.layers import TransformerSpecFields, TransformerStack, full_mask
from clmlf.outputs import TransformerOutput


class ImageTransformerSpec(TransformerSpecFields):
    type: Literal["transformer"] = "transformer"
    position_embedding: bool = Field(False, description="add a learned position embedding to the image tokens (the "
                                     "reference code has none)")
    max_tokens: int = Field(256, ge=1, description="most image tokens the position embedding covers (with position_embedding)")


class ImageTransformerEncoder(nn.Module):
    """Transformer over image tokens (B, Li, D) -> (B, Li, D).

    The reference code adds no position embedding to image tokens; ``position_embedding=True`` adds a
    learned one (up to ``max_tokens`` tokens). ``layer_kwargs`` (``num_heads``, ``ffn_dim``, ``dropout``,
    ``attention_dropout``, ``dropout_layout``: ``bert`` for the reference code's BERT layers, ...) go to every
    :class:`~clmlf.fusion.layers.TransformerLayer`.
    """

    def __init__(
        self,
        d_model: int = 768,
        num_layers: int = 2,
        position_embedding: bool = False,
        max_tokens: int = 256,
        **layer_kwargs,
    ) -> None:
        super().__init__()
        self.stack = TransformerStack(num_layers, d_model, **layer_kwargs)
        self.position = nn.Parameter(torch.zeros(1, max_tokens, d_model)) if position_embedding else None
        if self.position is not None:
            nn.init.trunc_normal_(self.position, std=0.02)

    def forward(self, tokens: Tensor, mask: Tensor | None = None, need_weights: bool = False) -> TransformerOutput:
        """tokens (B, Li, D) with mask (B, Li) (bool or 0/1, True for real tokens; None: all real) -> hidden (B, Li, D),
        bool mask (B, Li) and, when ``need_weights``, one (B, H, Li, Li) attention map per layer."""
        mask = check_sequence(tokens, full_mask(tokens) if mask is None else mask, self.stack.d_model, ("tokens", "mask"))
        if self.position is not None:
            if tokens.shape[1] > self.position.shape[1]:
                raise ValueError(f"{tokens.shape[1]} image tokens exceed max_tokens={self.position.shape[1]}")
            tokens = tokens + self.position[:, : tokens.shape[1]]
        return self.stack(tokens, mask, need_weights)
