"""PNG plots of a run: loss terms and dev metrics per epoch; the confusion matrix."""

from __future__ import annotations

from pathlib import Path

import torch


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: list[dict], path: Path) -> None:
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
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_confusion(confusion: torch.Tensor, label_names, path: Path, title: str) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(4.8, 4.2))
    image = axis.imshow(confusion.numpy(), cmap="Blues")
    for (row, column), count in zip(torch.cartesian_prod(torch.arange(confusion.shape[0]), torch.arange(confusion.shape[1])).tolist(), confusion.flatten().tolist()):
        axis.text(column, row, str(count), ha="center", va="center", color="white" if count > confusion.max() / 2 else "black")
    axis.set(xticks=range(len(label_names)), yticks=range(len(label_names)), xticklabels=label_names, yticklabels=label_names,
             xlabel="predicted", ylabel="gold", title=title)
    figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
