"""Evaluate a model on a loader: predictions, probabilities and the dataset's metrics."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from clmlf.model import CLMLF
from clmlf.train.inputs import model_inputs
from clmlf.train.metrics import confusion_matrix, evaluation_metrics


def autocast(device: torch.device, bf16: bool):
    """bf16 autocast on ``device`` when ``bf16`` (``TrainSpec.bf16_on`` decides per device type); plain fp32 otherwise."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()


def forward_batch(model: CLMLF, batch: dict, device: torch.device, bf16: bool = False):
    """The model's output for one batch made by :class:`~clmlf.train.inputs.Collator` (evaluation and prediction)."""
    with autocast(device, bf16):
        return model(**model_inputs(batch, device))


@dataclass
class Evaluation:
    metrics: dict[str, float]
    labels: torch.Tensor        # (N,)
    predictions: torch.Tensor   # (N,)
    probabilities: torch.Tensor  # (N, C)
    ids: list[str]
    pooled: torch.Tensor | None = None  # (N, D) pooled representations, when asked for

    def confusion(self, num_classes: int) -> torch.Tensor:
        return confusion_matrix(self.labels, self.predictions, num_classes)


@torch.no_grad()
def evaluate(
    model: CLMLF, loader: DataLoader, device: torch.device, num_classes: int, f1_average: str,
    bf16: bool = False, description: str = "eval", progress: bool = True, keep_pooled: bool = False,
) -> Evaluation:
    """Predictions and metrics over ``loader``; ``keep_pooled`` also keeps every item's pooled representation.
    A loader without batches (a rank's empty slice of a small split) gives empty tensors, no metrics, no pooled."""
    model.eval()
    labels, probabilities, ids, pooled = [], [], [], []
    for batch in tqdm(loader, desc=description, leave=False, disable=not progress, unit="batch"):
        output = forward_batch(model, batch, device, bf16)
        probabilities.append(output.logits.float().softmax(-1).cpu())
        if keep_pooled:
            pooled.append(output.pooled.float().cpu())
        labels.append(batch["labels"])
        ids += batch["ids"]
    if not labels:
        none = torch.empty(0, dtype=torch.long)
        return Evaluation({}, none, none, torch.empty(0, num_classes), [])
    probs = torch.cat(probabilities)
    gold = torch.cat(labels)
    metrics = evaluation_metrics(gold, probs, num_classes, f1_average)
    return Evaluation(metrics, gold, probs.argmax(-1), probs, ids, torch.cat(pooled) if keep_pooled else None)
