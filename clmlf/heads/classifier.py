"""The classifier (paper Eq. 10; reference code: Dropout -> Linear(d, d/2) -> GELU -> Linear(d/2, C))."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import Tensor, nn

from clmlf.heads.mlp import two_layer_mlp
from clmlf.spec import ComponentSpec


class MLPClassifierSpec(ComponentSpec):
    type: Literal["mlp"] = "mlp"
    d_model: int | None = Field(None, description="width of the pooled vector; null: model.d_model")
    num_classes: int | None = Field(None, ge=2, description="number of logits; null: model.num_classes")
    hidden_dim: int | None = Field(None, ge=1, description="width of the hidden layer; null: d_model // 2")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout probability on the pooled vector before the first Linear")


class MLPClassifier(nn.Module):
    """(B, D) pooled representation -> (B, C) logits. ``hidden_dim`` defaults to D // 2.

    C is the number of classes (the reference code always uses 3 logits, also for binary HFM: a defect).
    """

    def __init__(self, d_model: int = 768, num_classes: int = 3, hidden_dim: int | None = None, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = two_layer_mlp(d_model, hidden_dim or d_model // 2, num_classes, dropout)

    def forward(self, pooled: Tensor) -> Tensor:
        return self.net(pooled)
