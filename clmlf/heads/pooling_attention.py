"""Attention pooling over the fused sequence (paper Eq. 6-9)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from clmlf.checks import check_sequence
from clmlf.outputs import PoolerOutput
from pydantic import Field

from clmlf.spec import ComponentSpec


class AttentionPoolingSpec(ComponentSpec):
    type: Literal["attention"] = "attention"
    d_model: int | None = Field(None, description="token width; null: model.d_model")
    output_projection: bool = Field(True, description="R = GELU(W_R R~ + b_R) after the weighted sum (paper Eq. 9); "
                                    "false: skip it, as the reference code does")


class AttentionPooling(nn.Module):
    """q_i = GELU(f_i W1 + b1) W2 + b2 (Eq. 6-7), softmax over real tokens (Eq. 8), R~ = sum_i q_i f_i,
    R = GELU(R~ W_R + b_R) (Eq. 9). The reference code skips the last projection: ``output_projection=False``.

    hidden (B, L, D), mask (B, L) bool or 0/1 (True for real tokens) -> pooled (B, D), weights (B, L). A row without
    a real token gets zero weights (R~ = 0, as :class:`MeanPooling` gives) rather than NaN. The softmax runs in at least
    float32 (bf16/fp16 scores are upcast, float64 stays float64); the weights come back in ``hidden``'s dtype.
    """

    def __init__(self, d_model: int = 768, output_projection: bool = True) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(d_model, d_model // 2), nn.GELU(), nn.Linear(d_model // 2, 1))
        self.project = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU()) if output_projection else nn.Identity()

    def forward(self, hidden: Tensor, mask: Tensor) -> PoolerOutput:
        mask = check_sequence(hidden, mask, self.score[0].in_features)
        scores = self.score(hidden).squeeze(-1)
        scores = scores.to(torch.promote_types(scores.dtype, torch.float32)).masked_fill(~mask, float("-inf"))
        weights = scores.softmax(dim=-1).masked_fill(~mask, 0.0).to(hidden.dtype)
        pooled = (weights.unsqueeze(-1) * hidden).sum(dim=1)
        return PoolerOutput(self.project(pooled), weights)
