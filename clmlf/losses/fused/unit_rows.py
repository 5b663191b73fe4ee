"""Single-process ``supcon`` and ``ntxent`` as one autograd op that keeps no (N, d) float32 copies (docs/method.md §2).

NT-Xent over the views [ẑ; ẑ'] is SupCon whose only positive is each view's partner, so both are

    L = Σ_i a_i·LSE_i − κ·Σ_i c_i·x_i·T_i,   x = normalize(h),   LSE_i over k ≠ i of β·x_i·x_k,

with T_i = C_{g_i} − x_i (the sum of x over i's class, minus x_i) for supcon and T_i = x_π(i) (the partner) for
ntxent. a and c are constant within a class (c_i = a_i / npos_i), so ∂L/∂x_j = β·Σ_k E_jk x_k − 2κ·c_j·T_j, with
E the kernels' symmetric weights. Plain autograd through the same expression keeps float32 copies of h and x
and several (N, d) gradients alive; this op saves only h (and per-row and per-class vectors), recomputes x in row
chunks, and applies normalize's Jacobian to the gradient in place: the extra memory is the kernels' (an operand
copy of x, dx, one strip) and one chunk.
"""

from __future__ import annotations

import torch
from torch import Tensor

from clmlf.losses._common import upcast
from clmlf.losses.fused.row_lse import Kernels, Stats

CHUNK_ROWS = 4096
"""Rows per chunk of the O(N·d) passes (a float32 chunk of 4096 × 768 is 12 MiB)."""
EPS = 1e-12
"""F.normalize's eps: rows are h_i / max(‖h_i‖, EPS)."""


def _chunks(n: int):
    return (slice(a, min(a + CHUNK_ROWS, n)) for a in range(0, n, CHUNK_ROWS))


def _unit(h: Tensor, norms: Tensor, rows: slice | Tensor) -> Tensor:
    """normalize(h)[rows] in the accumulation dtype (float32 for half h)."""
    return upcast(h[rows]) / norms[rows, None]


class UnitRowContrast(torch.autograd.Function):
    """h (M, d) rows -> 0-d loss (module docstring). a, c (M,) row weights; classes (M,) class ids in
    [0, num_classes) with T = class sum − self, or partner (M,) with T = the partner's row; beta, kappa floats;
    kernels. Gradient for h only."""

    @staticmethod
    def forward(ctx, h, a, c, classes, num_classes: int, partner, beta: float, kappa: float, kernels: Kernels):
        norms = _norms(h)
        operand = _operand(h, norms, kernels)
        lse = kernels.symmetric_lse(operand, beta, True, True)
        del operand
        sums = None if classes is None else _class_sums(h, norms, classes, num_classes)
        positive = lse.new_empty(h.shape[0])
        for rows in _chunks(h.shape[0]):
            positive[rows] = (_unit(h, norms, rows) * _targets(h, norms, rows, classes, sums, partner)).sum(1)
        ctx.save_for_backward(h, norms, lse, a, c, classes, partner, sums)
        ctx.setup = beta, kappa, kernels
        return (a * lse).sum() - kappa * (c * positive).sum()

    @staticmethod
    def backward(ctx, grad):
        h, norms, lse, a, c, classes, partner, sums = ctx.saved_tensors
        beta, kappa, kernels = ctx.setup
        operand = _operand(h, norms, kernels)
        dx, _ = kernels.symmetric_grad(operand, beta, Stats(lse, grad * a), True, False, True)
        del operand
        for rows in _chunks(h.shape[0]):
            x = _unit(h, norms, rows)
            d = dx[rows].sub_(_targets(h, norms, rows, classes, sums, partner).mul_((2 * kappa * grad) * c[rows, None]))
            small = norms[rows] <= EPS  # F.normalize clamps these norms: its Jacobian is then 1/EPS, no projection
            d.sub_(x * torch.where(small, 0.0, (x * d).sum(1))[:, None]).div_(norms[rows, None])
        return dx, None, None, None, None, None, None, None, None


def _norms(h: Tensor) -> Tensor:
    """(M,) max(‖h_i‖, EPS) in the accumulation dtype."""
    norms = upcast(h[:0]).new_empty(h.shape[0])
    for rows in _chunks(h.shape[0]):
        norms[rows] = torch.linalg.vector_norm(upcast(h[rows]), dim=1)
    return norms.clamp_min_(EPS)


def _operand(h: Tensor, norms: Tensor, kernels: Kernels) -> Tensor:
    """normalize(h) as the kernels' operand: h's half dtype where they take half operands, else float32/64."""
    half = kernels.half_operands and h.dtype in (torch.float16, torch.bfloat16)
    out = h.new_empty(h.shape, dtype=h.dtype if half else norms.dtype)
    for rows in _chunks(h.shape[0]):
        out[rows] = _unit(h, norms, rows)
    return out


def _class_sums(h: Tensor, norms: Tensor, classes: Tensor, num_classes: int) -> Tensor:
    """(num_classes, d) Σ of normalize(h) over each class."""
    sums = norms.new_zeros(num_classes, h.shape[1])
    for rows in _chunks(h.shape[0]):
        sums.index_add_(0, classes[rows], _unit(h, norms, rows))
    return sums


def _targets(h: Tensor, norms: Tensor, rows: slice, classes: Tensor | None, sums: Tensor | None, partner: Tensor | None) -> Tensor:
    """T for ``rows``: class sum minus self (supcon) or the partner's row (ntxent), in the accumulation dtype."""
    if classes is None:
        return _unit(h, norms, partner[rows])
    return sums[classes[rows]] - _unit(h, norms, rows)


def unit_row_contrast(
    h: Tensor, a: Tensor, c: Tensor, beta: float, kappa: float, kernels: Kernels,
    classes: Tensor | None = None, num_classes: int = 0, partner: Tensor | None = None,
) -> Tensor:
    """0-d loss of :class:`UnitRowContrast`; either ``classes`` with ``num_classes`` (supcon) or ``partner`` (ntxent)."""
    return UnitRowContrast.apply(h, a, c, classes, num_classes, partner, beta, kappa, kernels)
