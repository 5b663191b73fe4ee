"""Late fusion: pooled text ⊕ pooled image -> one vector (the usual baseline; the image-only row of paper Table 3)."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from clmlf.checks import check_batch_sizes, check_sequence
from clmlf.fusion.layers import full_mask
from clmlf.heads.pooling_mean import MeanPooling
from clmlf.outputs import TransformerOutput
from clmlf.spec import ComponentSpec

Modality = Literal["text", "image"]


class LateFusionSpec(ComponentSpec):
    type: Literal["late"] = "late"
    d_model: int | None = Field(None, description="token width; null: model.d_model")
    modalities: tuple[Modality, ...] = Field(("text", "image"), min_length=1, description="whose mean-pooled tokens are "
                                             "concatenated and projected: text and/or image, once each; [image]: image only")


class LateFusion(nn.Module):
    """Mean-pool each modality's real tokens, concatenate, project: GELU(W [t̄; ī] + b), (B, k·D) -> (B, D).

    Returned as a one-token sequence (B, 1, D) with mask (B, 1), so any pooler (``cls`` is the natural one) and the
    usual head follow. The image encoder's global token, when it has one, is among the averaged image tokens.
    ``modalities=("image",)`` ignores the text (an image-only classifier; the text encoder gets no gradient).
    No token ever attends to another, so there are no attention maps.
    """

    def __init__(self, d_model: int = 768, modalities: tuple[Modality, ...] = ("text", "image")) -> None:
        super().__init__()
        if not modalities or len(set(modalities)) != len(modalities):
            raise ValueError(f"modalities must name text and/or image once each, got {modalities}")
        self.modalities = tuple(modalities)
        self.d_model = d_model
        self.mean = MeanPooling()
        self.project = nn.Sequential(nn.Linear(len(self.modalities) * d_model, d_model), nn.GELU())

    def forward(
        self,
        text: Tensor,
        text_mask: Tensor,
        image: Tensor | None = None,
        image_mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> TransformerOutput:
        """text (B, Lt, D) with text_mask (B, Lt); image (B, Li, D) -> hidden (B, 1, D), mask (B, 1), no attentions."""
        sequences = {"text": (text, text_mask)}
        if image is not None:
            sequences["image"] = (image, full_mask(image) if image_mask is None else image_mask)
        if any(name not in sequences for name in self.modalities):
            raise ValueError("late fusion over the image needs image tokens (this model has no image encoder?)")
        for name, (hidden, mask) in sequences.items():
            check_sequence(hidden, mask, self.d_model, (name, f"{name}_mask"))
        check_batch_sizes({name: hidden for name, (hidden, _) in sequences.items()})
        pooled = [self.mean(*sequences[name]).pooled for name in self.modalities]
        fused = self.project(torch.cat(pooled, dim=-1)).unsqueeze(1)
        return TransformerOutput(fused, full_mask(fused))
