"""The four loss variants on top of :func:`global_row_lse` (docs/method.md §2, closed forms).

Each is  L = Σ_i w_i·LSE_i − Σ_i v_i·(positive logits of row i), with the positive terms from class sums
(Σ_{p∈P(i)} z_i·z_p = z_i·C_{y_i}) in plain autograd. Inputs are this rank's rows; ``rows`` says how they sit in
the global batch (single process: all of it). Half inputs are computed in float32 and the loss is float32 (kernels
that take half operands get the normalised rows rounded back to the input dtype: tensor-core dots, fp32 accumulation).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from clmlf.losses._common import Temperature, accumulation_dtype, class_ids, upcast, zero_loss
from clmlf.losses.distributed import RowGroup
from clmlf.losses.fused.row_lse import Kernels, global_row_lse
from clmlf.losses.fused.unit_rows import unit_row_contrast


def _class_sums(x: Tensor, ids: Tensor, num_classes: int) -> Tensor:
    """(N, d) rows, (N,) class ids -> (C, d) per-class sums C_c = Σ_{y_i=c} x_i."""
    return x.new_zeros(num_classes, x.shape[1]).index_add(0, ids, x)


def _dot_with_class_sum(x: Tensor, ids: Tensor, num_classes: int) -> Tensor:
    """(N,) x_i·C_{y_i} as a (N, C) matmul and a gather: no (N, d) temporary of gathered class sums."""
    return (x @ _class_sums(x, ids, num_classes).T).gather(1, ids[:, None]).squeeze(1)


def _partners(views: RowGroup, device: torch.device) -> Tensor:
    """(2N,) index of each view's partner when every rank's views are stacked [ẑ_r; ẑ'_r] in rank order
    (built on ``device``: no host-to-device copy, which would wait for the queued GPU work)."""
    parts, start = [], 0
    for size in views.sizes:
        parts.append((torch.arange(size, device=device) + size // 2) % size + start)
        start += size
    return torch.cat(parts)


def _lean(rows: RowGroup, temperature: Temperature, kernels: Kernels) -> bool:
    """Whether :func:`.unit_rows.unit_row_contrast` serves: one process, a float temperature, symmetric kernels."""
    return rows.world == 1 and not isinstance(temperature, Tensor) and kernels.symmetric_grad is not None


def supcon(z: Tensor, labels: Tensor, temperature: Temperature, rows: RowGroup, kernels: Kernels) -> Tensor:
    """LBCL ``supcon``: L = Σ_i a_i·LSE_i − κ·Σ_i b_i·ẑ_i·(C_{y_i} − ẑ_i), a_i = [npos_i>0]/M, b_i = a_i/npos_i.

    z: (n, d) own rows, labels: (n,). LSE over k ≠ i of κ·ẑ_i·ẑ_k."""
    ids, counts = class_ids(rows.gather(labels))
    npos = counts[ids] - 1
    anchors = npos > 0
    if not anchors.any():
        return zero_loss(z, temperature)
    a = anchors.to(accumulation_dtype(z)) / anchors.sum()
    b = a / npos.clamp(min=1)
    if _lean(rows, temperature, kernels):
        return unit_row_contrast(z, a, b, 1 / temperature, 1 / temperature, kernels, classes=ids, num_classes=len(counts))
    x = F.normalize(upcast(z), dim=1)
    x_all = rows.gather(x)
    lse = global_row_lse(x, None, 1 / temperature, x_all, None, rows, kernels, exclude_self=True, operand_dtype=z.dtype, unit_rows=True)
    positive = _dot_with_class_sum(x_all, ids, len(counts)) - x_all.square().sum(1)  # (an einsum is a batched 1×1 GEMM on GPU)
    kappa = 1 / rows.own_share(temperature)
    return (a * lse).sum() - (b * kappa * positive).sum()


def lbcl_clmlf(z: Tensor, labels: Tensor, temperature: Temperature, rows: RowGroup, kernels: Kernels) -> Tensor:
    """LBCL ``clmlf``: L = Σ_i (n_{y_i}·LSE_i − z_i·C_{y_i}) / (τ·Q), Q = Σ_c n_c², LSE over all k of z_i·z_k."""
    x = upcast(z)
    x_all, y_all = rows.gather(x), rows.gather(labels)
    ids, counts = class_ids(y_all)
    lse = global_row_lse(x, None, 1.0, x_all, None, rows, kernels, operand_dtype=z.dtype)
    positive = _dot_with_class_sum(x_all, ids, len(counts))
    per_row = (counts[ids] * lse - positive) / rows.own_share(temperature)
    return per_row.sum() / counts.square().sum()


def ntxent(z: Tensor, z_aug: Tensor, temperature: Temperature, rows: RowGroup, kernels: Kernels) -> Tensor:
    """DBCL ``ntxent`` over the 2N views h: L = mean_i (LSE_i − κ·h_i·h_π(i)), LSE over k ≠ i of κ·h_i·h_k.

    Internally each rank's views are stacked [ẑ; ẑ'] (rank-major; the loss is order-independent)."""
    views = rows.times(2)
    partner = _partners(views, z.device)
    if _lean(rows, temperature, kernels):
        h = torch.cat([z, z_aug])
        weight = h.new_full((h.shape[0],), 1 / h.shape[0], dtype=accumulation_dtype(h))
        return unit_row_contrast(h, weight, weight, 1 / temperature, 1 / temperature, kernels, partner=partner)
    h = F.normalize(torch.cat([upcast(z), upcast(z_aug)]), dim=1)
    h_all = views.gather(h)
    lse = global_row_lse(h, None, 1 / temperature, h_all, None, views, kernels, exclude_self=True, operand_dtype=z.dtype, unit_rows=True)
    positive = (h_all * h_all[partner]).sum(1)
    return (lse - positive / views.own_share(temperature)).mean()


def dbcl_clmlf(z: Tensor, z_aug: Tensor, temperature: Temperature, rows: RowGroup, kernels: Kernels) -> Tensor:
    """DBCL ``clmlf``: L = mean_i (LSE_i − κ·z_i·z'_i), LSE over j of κ·z_i·z'_j (one direction, raw)."""
    q, k = upcast(z), upcast(z_aug)
    q_all, k_all = rows.gather(q), rows.gather(k)
    lse = global_row_lse(q, k, 1 / temperature, q_all, k_all, rows, kernels, operand_dtype=z.dtype)
    positive = (q_all * k_all).sum(1)
    return (lse - positive / rows.own_share(temperature)).mean()
