"""Figures of a run: loss terms and dev metrics per epoch; the confusion matrix. Each is a matplotlib Figure, saved
as a PNG in the run directory (:meth:`clmlf.train.run_dir.RunDir.write_figures`) and logged by the tracker
(:mod:`clmlf.train.tracking`)."""

from __future__ import annotations

import torch


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curves_figure(history: list[dict]):
    """Left: training loss terms and the dev cross-entropy per epoch; right: dev accuracy / F1 per epoch."""
    plt = pyplot()
    epochs = [record["epoch"] for record in history]
    figure, (losses, scores) = plt.subplots(1, 2, figsize=(10, 4))
    for name in history[0]["train"] if history else []:
        losses.plot(epochs, [record["train"][name] for record in history], marker="o", label=name)
    if history and "cross_entropy" in history[0]["dev"]:  # beside the training sc term: where dev stops following it
        losses.plot(epochs, [record["dev"]["cross_entropy"] for record in history], marker="s", linestyle="--", label="dev cross_entropy")
    losses.set(title="training loss terms, dev cross-entropy", xlabel="epoch", ylabel="mean")
    losses.legend()
    for name in ("accuracy", "f1"):
        scores.plot(epochs, [record["dev"][name] for record in history], marker="o", label=f"dev {name}")
    scores.set(title="dev metrics", xlabel="epoch")
    scores.legend()
    figure.tight_layout()
    return figure


def confusion_figure(confusion: torch.Tensor, label_names, title: str):
    """The (C, C) counts ``confusion`` (rows gold, columns predicted) as an annotated heat map."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(4.8, 4.2))
    image = axis.imshow(confusion.numpy(), cmap="Blues")
    for (row, column), count in zip(torch.cartesian_prod(torch.arange(confusion.shape[0]), torch.arange(confusion.shape[1])).tolist(), confusion.flatten().tolist()):
        axis.text(column, row, str(count), ha="center", va="center", color="white" if count > confusion.max() / 2 else "black")
    axis.set(xticks=range(len(label_names)), yticks=range(len(label_names)), xticklabels=label_names, yticklabels=label_names,
             xlabel="predicted", ylabel="gold", title=title)
    figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    return figure


def run_figures(metrics: dict, confusion: torch.Tensor, label_names) -> dict:
    """``{name: Figure}`` of a finished run (``metrics``: its metrics.json; ``confusion``: the test confusion matrix):
    ``curves`` and ``confusion_test``; close them with :func:`close_figures`."""
    return {
        "curves": curves_figure(metrics["epochs"]),
        "confusion_test": confusion_figure(confusion, label_names, title=f"test confusion (best dev epoch {metrics['best_epoch']})"),
    }


def close_figures(figures: dict) -> None:
    plt = pyplot()
    for figure in figures.values():
        plt.close(figure)
