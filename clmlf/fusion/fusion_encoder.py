"""TE_M: the token-level fusion Transformer over the joint sequence [text; image] (paper Eq. 4-5)."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from clmlf.checks import check_batch_sizes, check_sequence
from clmlf.fusion.layers import TransformerSpecFields, TransformerStack, full_mask
from clmlf.outputs import TransformerOutput
from clmlf.spec import MAX_LAYERS


class FusionEncoderSpec(TransformerSpecFields):
    type: Literal["transformer"] = "transformer"
    num_layers: int = Field(3, ge=0, le=MAX_LAYERS, description="number of Transformer layers over [text; image]")
    modality_embedding: bool = Field(False, description="add a learned text/image type vector to the tokens (the "
                                     "reference code has none)")


class FusionEncoder(nn.Module):
    """Concatenate text (B, Lt, D) and image (B, Li, D) tokens and run ``num_layers`` Transformer layers.

    Text padding is masked as keys; image tokens are all real unless ``image_mask`` says otherwise.
    ``modality_embedding=True`` adds a learned text/image type vector (the reference code has none).
    Without image tokens it fuses the text alone (text-only ablations). ``layer_kwargs`` (``num_heads``, ``ffn_dim``,
    ``dropout``, ``attention_dropout``, ``dropout_layout``: ``bert`` for the reference code's BERT layers, ...) go to
    every :class:`~clmlf.fusion.layers.TransformerLayer`.
    """

    def __init__(self, d_model: int = 768, num_layers: int = 3, modality_embedding: bool = False, **layer_kwargs) -> None:
        super().__init__()
        self.stack = TransformerStack(num_layers, d_model, **layer_kwargs)
        self.modality = nn.Parameter(torch.zeros(2, d_model)) if modality_embedding else None
        if self.modality is not None:
            nn.init.trunc_normal_(self.modality, std=0.02)

    def forward(
        self,
        text: Tensor,
        text_mask: Tensor,
        image: Tensor | None = None,
        image_mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> TransformerOutput:
        """text (B, Lt, D) with text_mask (B, Lt) and image (B, Li, D) with image_mask (B, Li) (masks bool or 0/1, True
        for real tokens; image_mask None: all real) -> fused hidden (B, Lt+Li, D), bool mask (B, Lt+Li) and, when
        ``need_weights``, one (B, H, L, L) attention map per layer. Malformed inputs raise, naming the argument."""
        text_mask = check_sequence(text, text_mask, self.stack.d_model, ("text", "text_mask"))
        if image is not None:
            image_mask = check_sequence(image, full_mask(image) if image_mask is None else image_mask, self.stack.d_model,
                                        ("image", "image_mask"))
            check_batch_sizes({"text": text, "image": image})
        if self.modality is not None:
            text = text + self.modality[0]
            image = None if image is None else image + self.modality[1]
        if image is None:
            return self.stack(text, text_mask, need_weights)
        return self.stack(torch.cat([text, image], dim=1), torch.cat([text_mask, image_mask], dim=1), need_weights)
