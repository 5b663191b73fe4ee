"""2-D t-SNE of pooled representations (paper Fig. 6)."""

from __future__ import annotations

import numpy as np
import torch

MIN_ITEMS = 5


def tsne_2d(pooled: torch.Tensor, seed: int = 0) -> np.ndarray:
    """(N, D) -> (N, 2) with scikit-learn's t-SNE (PCA init, perplexity min(30, (N - 1) / 3), fixed seed)."""
    from sklearn.manifold import TSNE

    if pooled.shape[0] < MIN_ITEMS:
        raise ValueError(f"t-SNE needs at least {MIN_ITEMS} items; the split has {pooled.shape[0]}")
    perplexity = min(30.0, (pooled.shape[0] - 1) / 3)
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(pooled.double().numpy())
