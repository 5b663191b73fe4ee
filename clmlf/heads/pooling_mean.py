"""Masked mean pooling."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from clmlf.checks import check_sequence
from clmlf.outputs import PoolerOutput
from clmlf.spec import ComponentSpec


class MeanPoolingSpec(ComponentSpec):
    type: Literal["mean"] = "mean"


class MeanPooling(nn.Module):
    """hidden (B, L, D), mask (B, L) bool or 0/1 -> mean over real tokens (B, D); weights (B, L) = mask / count
    (a row without a real token pools to zeros)."""

    def forward(self, hidden: Tensor, mask: Tensor) -> PoolerOutput:
        weights = check_sequence(hidden, mask).to(hidden.dtype)
        weights = weights / weights.sum(dim=1, keepdim=True).clamp_min(1.0)
        return PoolerOutput((weights.unsqueeze(-1) * hidden).sum(dim=1), weights)
