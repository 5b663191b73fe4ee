"""A loss term: the confidence penalty, KL(p ‖ uniform) of the predicted class distribution."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from clmlf.losses import LossTermSpec, TrainingStep


class ConfidencePenaltySpec(LossTermSpec):
    type: Literal["confidence_penalty"] = "confidence_penalty"
    weight: float = Field(0.1, ge=0)  # its share of the total loss (not passed to the term)
    temperature: float = Field(1.0, gt=0)
    uses: ClassVar[frozenset[str]] = frozenset()  # reads only the logits


class ConfidencePenalty(nn.Module):
    """mean over the batch of log C - H(p), p = softmax(logits / temperature) over C classes: 0 for uniform
    predictions, log C for certain ones. With a small weight it discourages over-confident predictions (the
    confidence penalty of Pereyra et al., 2017, shifted by the constant log C to stay non-negative)."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, step: TrainingStep) -> Tensor:
        log_p = F.log_softmax(step.logits.float() / self.temperature, dim=-1)
        entropy = -(log_p.exp() * log_p).sum(-1)
        return (math.log(step.logits.shape[-1]) - entropy).mean()
