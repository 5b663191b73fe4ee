"""Small helpers shared by every implementation of the contrastive losses."""

from __future__ import annotations

import torch
from torch import Tensor

Temperature = float | Tensor
"""A python float, a 0-d tensor (possibly learnable), or, inside the library, one value per anchor row (R,)."""


def accumulation_dtype(x: Tensor) -> torch.dtype:
    """float32 for half ``x`` (bf16/fp16 logits are accumulated in fp32), else x's dtype."""
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype


def upcast(x: Tensor) -> Tensor:
    """``x`` in its :func:`accumulation_dtype`."""
    return x.to(accumulation_dtype(x))


def zero_loss(z: Tensor, temperature: Temperature) -> Tensor:
    """A 0-d zero attached to the graph of ``z`` (and of a tensor ``temperature``): backward gives zero grads."""
    zero = upcast(z).sum() * 0
    return zero + temperature.sum() * 0 if isinstance(temperature, Tensor) else zero


def class_ids(labels: Tensor) -> tuple[Tensor, Tensor]:
    """``labels`` (N,) of any integers -> (ids (N,) in ``0..C-1``, counts (C,)), classes in sorted order."""
    _, ids, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    return ids, counts
