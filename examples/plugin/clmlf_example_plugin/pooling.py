"""Max pooling over the real tokens."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from clmlf import ComponentSpec, PoolerOutput


class MaxPoolerSpec(ComponentSpec):
    type: Literal["max"] = "max"


class MaxPooler(nn.Module):
    """hidden (B, L, D), mask (B, L) bool -> PoolerOutput(pooled (B, D), weights None): each feature's maximum over
    the positions where ``mask`` is True."""

    def forward(self, hidden: Tensor, mask: Tensor) -> PoolerOutput:
        masked = hidden.masked_fill(~mask.bool().unsqueeze(-1), float("-inf"))
        return PoolerOutput(masked.amax(dim=1))
