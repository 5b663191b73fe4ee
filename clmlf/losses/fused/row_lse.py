"""The one custom autograd op of the fused losses: the global row log-sum-exp of a logit matrix.

Every variant of docs/method.md §2 is  L = Σ_i w_i·LSE_i − (terms linear in the logits of positive pairs); the
positive terms need no N×N work (Σ_{p∈P(i)} z_i·z_p = z_i·C_{y_i}) and stay in ordinary autograd, where they cost
O(N·d). Only LSE_i = log Σ_j exp(β·q_i·k_j) is quadratic: :class:`GlobalRowLSE` computes it tile by tile and
recomputes the tiles in its backward pass from the saved LSE vector (flash-attention style), using the tile
primitives of an implementation (:mod:`.chunked` or :mod:`.triton_backend`) bundled as :class:`Kernels`.

Across ranks (:mod:`clmlf.losses.distributed`) the op returns the LSE of *all* global rows (the own rows computed
here, the others all-gathered), receives ∂L/∂LSE for all of them, and so can form its own rows' column terms
ω_j·p_ji without any gradient communication.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch
from torch import Tensor

from clmlf.losses.distributed import RowGroup


class Stats(NamedTuple):
    """Per-row statistics of a set of rows: lse (R,) and weight ω = ∂L/∂LSE (R,)."""

    lse: Tensor
    weight: Tensor


@dataclass(frozen=True)
class Kernels:
    """Tile primitives of one implementation (signatures and math: :mod:`clmlf.losses.fused.chunked`).

    ``row_lse(q, k, beta, self_offset) -> (n,)``;
    ``row_grad(q, k, beta, row, col, self_offset, want_dbeta) -> (dq, dbeta | None)``;
    optional single-process fast paths — for a symmetric S = β·x xᵀ:
    ``symmetric_lse(x, beta, exclude_self, unit_rows)`` (``unit_rows``: a hint that every row has norm ≤ 1, so
    |S| ≤ |β|), ``symmetric_grad(x, beta, stats, exclude_self, want_dbeta, unit_rows)``;
    for S = β·q kᵀ: ``paired_grad(q, k, beta, stats, want_dbeta) -> (dq, dk, dbeta | None)``.
    """

    row_lse: Callable[..., Tensor]
    row_grad: Callable[..., tuple[Tensor, Tensor | None]]
    symmetric_lse: Callable[..., Tensor] | None = None
    symmetric_grad: Callable[..., tuple[Tensor, Tensor | None]] | None = None
    paired_grad: Callable[..., tuple[Tensor, Tensor, Tensor | None]] | None = None
    half_operands: bool = False
    """Whether the tile primitives take bf16/fp16 operands (returning float32 statistics and gradients)."""

    def operands(self, dtype: torch.dtype, *tensors: Tensor | None) -> list[Tensor | None]:
        """``tensors`` as the kernels' operands: cast to the caller's half ``dtype`` where the kernels take half
        (one copy per distinct tensor: single-process q_all is q itself)."""
        if not (self.half_operands and dtype in (torch.float16, torch.bfloat16)):
            return list(tensors)
        cast: dict[int, Tensor] = {}
        for t in tensors:
            if t is not None and id(t) not in cast:
                cast[id(t)] = t.to(dtype)
        return [None if t is None else cast[id(t)] for t in tensors]


class GlobalRowLSE(torch.autograd.Function):
    """LSE_i = log Σ_j exp(β·q_i·k_j) for every row i of the global batch.

    Inputs: q (n, d) this rank's rows; k (n, d) this rank's keys, or None for the symmetric case k = q
    (then ``exclude_self`` drops j = i); beta a 0-d tensor (learnable) or None, b its value as a float;
    q_all, k_all (N, d) the gathered values (k_all None when symmetric); unit_rows: q's rows have norm ≤ 1;
    rows: the layout of q's rows; kernels; operand_dtype: the dtype of the loss inputs (half operands go to
    kernels that take them). Output: (N,) LSE of all global rows.
    Gradients: exact rows for q and k; for beta, the share of this rank's anchor rows.
    """

    @staticmethod
    def forward(ctx, q, k, beta, b: float, q_all, k_all, exclude_self: bool, unit_rows: bool, rows: RowGroup, kernels: Kernels, operand_dtype: torch.dtype):
        symmetric_fast = k is None and rows.world == 1 and kernels.symmetric_lse is not None
        oq, ok, oq_all, ok_all = kernels.operands(operand_dtype, q, k, q_all, k_all)
        if symmetric_fast:
            lse = kernels.symmetric_lse(oq, b, exclude_self, unit_rows)
        else:
            keys = oq_all if k is None else ok_all
            lse = kernels.row_lse(oq, keys, b, rows.offset if exclude_self else None)
        lse_all = rows.gather(lse.to(q.dtype))
        ctx.save_for_backward(q, k, q_all, k_all, lse_all)
        ctx.setup = (b, exclude_self, unit_rows, rows, kernels, symmetric_fast, operand_dtype)
        return lse_all

    @staticmethod
    def backward(ctx, grad_lse):
        b, exclude_self, unit_rows, rows, kernels, symmetric_fast, operand_dtype = ctx.setup
        q, k, q_all, k_all = kernels.operands(operand_dtype, *ctx.saved_tensors[:4])
        lse_all = ctx.saved_tensors[4]
        want_dbeta = ctx.needs_input_grad[2]
        everyone = Stats(lse_all, grad_lse)
        mine = Stats(lse_all[rows.own], grad_lse[rows.own])
        dk = None
        with torch.autocast(device_type=q.device.type, enabled=False):
            if symmetric_fast:
                dq, dbeta = kernels.symmetric_grad(q, b, everyone, exclude_self, want_dbeta, unit_rows)
            elif k is None:
                dq, dbeta = kernels.row_grad(q, q_all, b, mine, everyone, rows.offset if exclude_self else None, want_dbeta)
            elif rows.world == 1 and kernels.paired_grad is not None:
                dq, dk, dbeta = kernels.paired_grad(q, k, b, everyone, want_dbeta)
            else:
                dq, dbeta = kernels.row_grad(q, k_all, b, mine, None, None, want_dbeta)
                dk, _ = kernels.row_grad(k, q_all, b, None, everyone, None, False)
        cast = lambda grad: None if grad is None else grad.to(lse_all.dtype)  # noqa: E731  (the float32 of the inputs)
        return cast(dq), cast(dk), dbeta, None, None, None, None, None, None, None, None


def global_row_lse(
    q: Tensor,
    k: Tensor | None,
    beta: float | Tensor,
    q_all: Tensor,
    k_all: Tensor | None,
    rows: RowGroup,
    kernels: Kernels,
    exclude_self: bool = False,
    operand_dtype: torch.dtype | None = None,
    unit_rows: bool = False,
) -> Tensor:
    """(N,) global row LSE of β·q_all k_allᵀ (or of the symmetric β·q_all q_allᵀ when ``k`` is None); see
    :class:`GlobalRowLSE`. ``q_all``/``k_all`` are detached here. ``operand_dtype``: the loss inputs' dtype;
    ``unit_rows``: the rows are normalised. A float β costs no device synchronisation; a tensor β (learnable
    temperature) is read once."""
    value = float(beta.detach()) if isinstance(beta, Tensor) else float(beta)
    beta = beta if isinstance(beta, Tensor) else None
    k_all = None if k_all is None else k_all.detach()
    return GlobalRowLSE.apply(q, k, beta, value, q_all.detach(), k_all, exclude_self, unit_rows, rows, kernels, operand_dtype or q.dtype)
