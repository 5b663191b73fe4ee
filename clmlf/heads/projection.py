"""Projection head for the contrastive losses (reference code: Linear(d, d) -> GELU -> Linear(d, d))."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import Tensor, nn

from clmlf.heads.mlp import two_layer_mlp
from clmlf.spec import ComponentSpec


class MLPProjectionSpec(ComponentSpec):
    type: Literal["mlp"] = "mlp"
    d_model: int | None = Field(None, description="width of the pooled vector; null: model.d_model")
    hidden_dim: int | None = Field(None, ge=1, description="width of the hidden layer; null: d_model")
    out_dim: int | None = Field(None, ge=1, description="width of z (the contrastive losses' input); null: d_model")


class MLPProjection(nn.Module):
    """(B, D) -> (B, out_dim) with out_dim and hidden_dim defaulting to D. Returns raw (unnormalised) z."""

    def __init__(self, d_model: int = 768, hidden_dim: int | None = None, out_dim: int | None = None) -> None:
        super().__init__()
        self.net = two_layer_mlp(d_model, hidden_dim or d_model, out_dim or d_model)

    def forward(self, pooled: Tensor) -> Tensor:
        return self.net(pooled)
