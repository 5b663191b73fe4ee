"""The two-layer MLP shared by the classifier and the projection heads."""

from __future__ import annotations

from torch import nn


def two_layer_mlp(in_dim: int, hidden_dim: int, out_dim: int, dropout: float = 0.0) -> nn.Sequential:
    """Dropout(p) -> Linear(in, hidden) -> GELU -> Linear(hidden, out); (..., in) -> (..., out)."""
    layers: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
    layers += [nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, out_dim)]
    return nn.Sequential(*layers)
