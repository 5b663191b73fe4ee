"""Classification metrics (accuracy, weighted / macro F1, cross-entropy) and the confusion matrix, in plain torch."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor


def confusion_matrix(labels: Tensor, predictions: Tensor, num_classes: int) -> Tensor:
    """(C, C) int64 counts; rows are gold labels, columns predictions."""
    index = labels.long() * num_classes + predictions.long()
    return torch.bincount(index, minlength=num_classes * num_classes).view(num_classes, num_classes)


def f1_per_class(confusion: Tensor) -> Tensor:
    """(C,) F1 per class; 0 where a class is neither predicted nor present."""
    true_positive = confusion.diag().double()
    denominator = confusion.sum(0).double() + confusion.sum(1).double()
    return torch.where(denominator > 0, 2 * true_positive / denominator.clamp_min(1), torch.zeros_like(true_positive))


def classification_metrics(
    labels: Tensor, predictions: Tensor, num_classes: int, f1_average: Literal["weighted", "macro"]
) -> dict[str, float]:
    """``accuracy``, ``weighted_f1``, ``macro_f1`` and ``f1`` (the dataset's default average, docs/method.md §4)."""
    confusion = confusion_matrix(labels, predictions, num_classes)
    per_class = f1_per_class(confusion)
    support = confusion.sum(1).double()
    weighted = float((per_class * support).sum() / support.sum().clamp_min(1))
    macro = float(per_class.mean())
    return {
        "accuracy": float(confusion.diag().sum()) / max(int(confusion.sum()), 1),
        "f1": weighted if f1_average == "weighted" else macro,
        "weighted_f1": weighted,
        "macro_f1": macro,
    }


def cross_entropy(labels: Tensor, probabilities: Tensor) -> float:
    """Mean negative log-probability of the gold class: (N,) labels, (N, C) probabilities."""
    gold = probabilities.double().gather(1, labels.long().view(-1, 1)).squeeze(1)
    return float(-gold.clamp_min(torch.finfo(probabilities.dtype).tiny).log().mean())


def evaluation_metrics(
    labels: Tensor, probabilities: Tensor, num_classes: int, f1_average: Literal["weighted", "macro"]
) -> dict[str, float]:
    """``classification_metrics`` of the argmax predictions, plus ``cross_entropy`` (what dev selection may read)."""
    return {**classification_metrics(labels, probabilities.argmax(-1), num_classes, f1_average),
            "cross_entropy": cross_entropy(labels, probabilities)}
