"""The ``reference`` implementation: direct N×N math, the executable definition of every variant.

Each function follows docs/method.md §2 literally and is what the fused implementations are tested against.
Half-precision inputs are computed in float32. ``temperature`` is a float, a 0-d tensor (possibly learnable),
or one value per anchor row ((N,), used by the cross-rank path to give each rank its own rows' share of the
temperature gradient; see :mod:`clmlf.losses.distributed`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from clmlf.losses._common import Temperature, upcast, zero_loss


def _rows(temperature: Temperature, like: Tensor) -> Tensor:
    """Temperature as a (1, 1) or (R, 1) tensor that divides the rows of an (R, ·) logit matrix."""
    return torch.as_tensor(temperature, dtype=like.dtype, device=like.device).reshape(-1, 1)


def supcon(z: Tensor, labels: Tensor, temperature: Temperature = 0.07) -> Tensor:
    """LBCL ``supcon``: supervised contrastive loss L_out (Khosla et al. 2020), as PML's ``SupConLoss``.

    z: (N, d) embeddings (L2-normalised here), labels: (N,). s_ij = ẑ_i·ẑ_j/τ, self excluded from numerator
    and denominator; loss_i = -mean_{p∈P(i)\\{i}} log softmax_{k≠i}(s_i)[p], averaged over anchors with a positive.
    Returns a 0-d tensor; a zero attached to the graph when no anchor has a positive. No value is read back to the
    host (no device synchronisation, nothing that breaks a ``torch.compile`` graph).
    """
    z = F.normalize(upcast(z), dim=1)
    n = z.shape[0]
    if n == 1:  # a static shape test: the only row has no column to contrast with
        return zero_loss(z, temperature)
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    positive = (labels[:, None] == labels[None, :]) & ~self_mask
    npos = positive.sum(1)
    anchors = npos > 0
    s = (z @ z.T / _rows(temperature, z)).masked_fill(self_mask, float("-inf"))
    log_prob = s - s.logsumexp(1, keepdim=True)
    per_anchor = -log_prob.masked_fill(~positive, 0).sum(1) / npos.clamp(min=1)
    return torch.where(anchors, per_anchor, 0).sum() / anchors.sum().clamp(min=1)


def lbcl_clmlf(z: Tensor, labels: Tensor, temperature: Temperature = 0.07) -> Tensor:
    """LBCL ``clmlf``, what the CLMLF reference code computes (docs/method.md §2).

    z: (N, d) raw embeddings (no normalisation), labels: (N,). S = z zᵀ; τ divides the log-probabilities after
    the softmax; the self pair is a positive and in the denominator; mean over all Σ_c n_c² positive pairs:
    L = -(1/τ)·(1/Σ_i|P(i)|)·Σ_i Σ_{p∈P(i)} log_softmax(S_i)[p]. Returns a 0-d tensor.
    """
    z = upcast(z)
    positive = labels[:, None] == labels[None, :]
    log_prob = (z @ z.T).log_softmax(1)
    return -(log_prob.masked_fill(~positive, 0) / _rows(temperature, z)).sum() / positive.sum()


def ntxent(z: Tensor, z_aug: Tensor, temperature: Temperature = 0.07) -> Tensor:
    """DBCL ``ntxent``: SimCLR NT-Xent, as PML's ``SelfSupervisedLoss(NTXentLoss(τ), symmetric=True)``.

    z, z_aug: (N, d) two views. The 2N normalised views h = [ẑ; ẑ'] are anchors; the partner view is the
    positive and the other 2N-2 views the negatives; mean over the 2N anchors. A per-row temperature is
    given per sample, (N,), and shared by both views of it. Returns a 0-d tensor.
    """
    n = z.shape[0]
    h = F.normalize(torch.cat([upcast(z), upcast(z_aug)]), dim=1)
    tau = _rows(temperature, h)
    tau = tau.repeat(2, 1) if tau.shape[0] > 1 else tau
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=h.device)
    s = (h @ h.T / tau).masked_fill(self_mask, float("-inf"))
    partner = (torch.arange(2 * n, device=h.device) + n) % (2 * n)
    return (s.logsumexp(1) - s[torch.arange(2 * n, device=h.device), partner]).mean()


def dbcl_clmlf(z: Tensor, z_aug: Tensor, temperature: Temperature = 0.07) -> Tensor:
    """DBCL ``clmlf``, what the CLMLF reference code computes: CrossEntropy(z z'ᵀ/τ, arange(N)).

    z, z_aug: (N, d) raw embeddings of the original and augmented views; one direction, no normalisation.
    Returns a 0-d tensor.
    """
    z, z_aug = upcast(z), upcast(z_aug)
    logits = z @ z_aug.T / _rows(temperature, z)
    return F.cross_entropy(logits, torch.arange(z.shape[0], device=z.device))
