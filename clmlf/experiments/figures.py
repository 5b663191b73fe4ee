"""PNG figures of the experiments: the ablation ladder (paper Table 3), a layer sweep (Fig. 3), word -> patch attention
(Fig. 5), t-SNE (Fig. 6)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from clmlf.train.plots import pyplot

if TYPE_CHECKING:
    from clmlf.experiments.attention import WordMaps


def plot_ablation(payload: dict, path: Path) -> None:
    """Test accuracy and F1 per ablation row (``ablation.json`` payload): every seed as a dot, the mean ± std as a
    diamond with error bars, rows top to bottom in ladder order."""
    plt = pyplot()
    rows = payload["rows"]
    positions = np.arange(len(rows))[::-1]
    figure, axes = plt.subplots(1, 2, figsize=(11, 1.2 + 0.45 * len(rows)), sharey=True)
    for axis, (metric, label) in zip(axes, (("accuracy", "accuracy"), ("f1", f"{payload['f1_average']} F1"))):
        for position, row in zip(positions, rows):
            scores = [run[metric] for run in row["runs"]]
            axis.plot(scores, [position - 0.15] * len(scores), "o", color="#6baed6", markersize=4, alpha=0.8)
        axis.errorbar([row[f"{metric}_mean"] for row in rows], positions, xerr=[row[f"{metric}_std"] or 0.0 for row in rows],
                      fmt="D", color="#08519c", capsize=4)
        axis.set(xlabel=f"test {label}", ylim=(-0.7, len(rows) - 0.3))
        axis.grid(axis="x", alpha=0.3)
    seeds = ", ".join(sorted({str(row["seeds"]) for row in rows}))
    axes[0].set(yticks=positions, yticklabels=[row["name"] for row in rows])
    figure.suptitle(f"Ablation of {payload['base']} on {payload['dataset']} (◆ mean ± std; dots: the {seeds} seed(s))")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_sweep(payload: dict, path: Path) -> None:
    """Test accuracy and F1 (mean ± std over seeds, error bars) against the swept value (``sweep.json`` payload)."""
    plt = pyplot()
    points = payload["points"]
    positions = range(len(points))
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for metric, label in (("accuracy", "accuracy"), ("f1", f"{payload['f1_average']} F1")):
        axis.errorbar(positions, [p[f"{metric}_mean"] for p in points], yerr=[p[f"{metric}_std"] or 0.0 for p in points],
                      marker="o", capsize=4, label=label)
    seeds = ", ".join(sorted({str(p["seeds"]) for p in points}))
    axis.set(xticks=list(positions), xticklabels=[str(p["value"]) for p in points],
             xlabel=f"{payload['parameter']} ({payload['key']})",
             ylabel="test score", title=f"{payload['parameter']} on {payload['dataset']} (mean ± std, {seeds} seed(s))")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_word_maps(maps: WordMaps, title: str, path: Path, columns: int = 4) -> None:
    """The image, then one panel per word: the image under the word's attention map (bilinear upsampling, scaled to
    the word's strongest patch), titled with the word and the share of its attention that goes to the image."""
    plt = pyplot()
    panels = 1 + len(maps.words)
    rows, columns = math.ceil(panels / columns), min(columns, panels)
    figure, axes = plt.subplots(rows, columns, figsize=(2.8 * columns + 1, 2.9 * rows + 0.6), squeeze=False,
                                layout="constrained")
    shown = None
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= panels:
            continue
        axis.imshow(maps.pixels.permute(1, 2, 0).numpy())
        if index == 0:
            axis.set_title("image (model view)", fontsize=10)
            continue
        heat = F.interpolate(maps.patches[index - 1][None, None], size=maps.pixels.shape[-2:], mode="bilinear")[0, 0]
        shown = axis.imshow((heat / heat.max().clamp_min(1e-12)).numpy(), cmap="jet", alpha=0.45, vmin=0.0, vmax=1.0)
        axis.set_title(f"{maps.words[index - 1]} ({float(maps.image_mass[index - 1]):.0%} on image)", fontsize=10)
    figure.suptitle(textwrap.fill(title, 25 * columns), fontsize=10)
    if shown is not None:
        figure.colorbar(shown, ax=axes, fraction=0.03, label="attention / the word's strongest patch")
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_tsne(panels: list[tuple[str, np.ndarray, torch.Tensor]], label_names, title: str, path: Path) -> None:
    """One scatter per ``(panel title, (N, 2) points, (N,) gold labels)``, coloured by gold label, side by side."""
    plt = pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.8), squeeze=False)
    for axis, (name, points, labels) in zip(axes.flat, panels):
        for index, label in enumerate(label_names):
            chosen = (labels == index).numpy()
            axis.scatter(points[chosen, 0], points[chosen, 1], s=12, alpha=0.8, label=f"{label} ({int(chosen.sum())})")
        axis.set(title=name, xticks=[], yticks=[])
        axis.legend(title="gold label", fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
