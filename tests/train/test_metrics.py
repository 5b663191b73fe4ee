"""The evaluation metrics against scikit-learn and against torch's own cross-entropy, on random predictions."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score

from clmlf.train.metrics import classification_metrics, cross_entropy, evaluation_metrics


@pytest.mark.parametrize("num_classes, absent", [(3, None), (5, 4), (2, None)])
def test_classification_metrics_match_sklearn(num_classes, absent):
    labels = torch.randint(0, num_classes, (200,))
    predictions = torch.randint(0, num_classes, (200,))
    if absent is not None:  # a class that is neither gold nor predicted anywhere
        labels[labels == absent] = 0
        predictions[predictions == absent] = 1
    ours = classification_metrics(labels, predictions, num_classes, "macro")
    classes = list(range(num_classes))
    assert ours["accuracy"] == pytest.approx(accuracy_score(labels, predictions))
    for average in ("weighted", "macro"):
        expected = f1_score(labels, predictions, labels=classes, average=average, zero_division=0)
        assert ours[f"{average}_f1"] == pytest.approx(expected)
    assert ours["f1"] == ours["macro_f1"]
    assert classification_metrics(labels, predictions, num_classes, "weighted")["f1"] == ours["weighted_f1"]


def test_cross_entropy_matches_torch():
    logits = torch.randn(64, 3, dtype=torch.float64) * 4
    labels = torch.randint(0, 3, (64,))
    expected = torch.nn.functional.cross_entropy(logits, labels).item()
    assert cross_entropy(labels, logits.softmax(-1)) == pytest.approx(expected, rel=1e-12)
    assert cross_entropy(labels, logits.float().softmax(-1)) == pytest.approx(expected, rel=1e-5)


def test_cross_entropy_stays_finite_on_a_zero_probability():
    probabilities = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    value = cross_entropy(torch.tensor([1, 0]), probabilities)
    assert value == pytest.approx((-torch.log(torch.tensor(torch.finfo(torch.float32).tiny)).item() + 0.6931472) / 2)


def test_evaluation_metrics_reads_the_argmax():
    probabilities = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.4, 0.35, 0.25]])
    labels = torch.tensor([0, 2, 0, 1])
    metrics = evaluation_metrics(labels, probabilities, 3, "weighted")
    assert metrics["accuracy"] == 0.5
    assert metrics["cross_entropy"] == pytest.approx(-torch.tensor([0.7, 0.6, 0.2, 0.35]).log().mean().item())
    assert {"f1", "weighted_f1", "macro_f1"} <= set(metrics)
