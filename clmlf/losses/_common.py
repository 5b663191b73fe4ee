"""Small helpers shared by every implementation of the contrastive losses."""

from __future__ import annotations

import torch
from torch import Tensor

Temperature = float | Tensor
"""A python float, a 0-d tensor (possibly learnable), or, inside the library, one value per anchor row (R,)."""


def upcast(x: Tensor) -> Tensor:
    """``x`` in float32 when it is a half type (bf16/fp16 logits are accumulated in fp32), else unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def zero_loss(z: Tensor, temperature: Temperature) -> Tensor:
    """A 0-d zero attached to the graph of ``z`` (and of a tensor ``temperature``): backward gives zero grads."""
    zero = upcast(z).sum() * 0
    return zero + temperature.sum() * 0 if isinstance(temperature, Tensor) else zero


def class_ids(labels: Tensor) -> tuple[Tensor, Tensor]:
    """``labels`` (N,) of any integers -> (ids (N,) in ``0..C-1``, counts (C,)), classes in sorted order."""
    _, ids, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    return ids, counts
