"""First-token pooling (BERT's [CLS])."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from clmlf.checks import check_sequence
from clmlf.outputs import PoolerOutput
from clmlf.spec import ComponentSpec


class CLSPoolingSpec(ComponentSpec):
    type: Literal["cls"] = "cls"


class CLSPooling(nn.Module):
    """hidden (B, L, D), mask (B, L) -> hidden[:, 0] (B, D). The first token must be real (it is [CLS])."""

    def forward(self, hidden: Tensor, mask: Tensor) -> PoolerOutput:
        check_sequence(hidden, mask)
        return PoolerOutput(hidden[:, 0])
