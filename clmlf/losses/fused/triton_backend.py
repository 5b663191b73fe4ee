"""``triton`` implementation: launches :mod:`.triton_kernels` behind the :class:`Kernels` interface.

Triton is imported lazily (``import clmlf`` works without it). Block sizes are fixed, untuned defaults.
Half-precision operands stay half (tensor-core dots); statistics and gradients come back in float32.
"""

from __future__ import annotations

import torch
from torch import Tensor

from clmlf.losses.fused.row_lse import Kernels, Stats

BM = BN = 64


def _blocks(d: int) -> tuple[int, int]:
    """(BK, BV): the d-chunk of the dot products and of the dq output block (powers of two, ≥ 16)."""
    width = max(16, 1 << (d - 1).bit_length())
    return min(width, 64), min(width, 256)


def _accumulation(x: Tensor) -> torch.dtype:
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype


def _precision(x: Tensor, interpreted: bool) -> str:
    """Dot precision for fp32 operands: 3xTF32 on GPU (tensor cores, about fp32 accuracy); IEEE otherwise."""
    return "tf32x3" if x.dtype == torch.float32 and not interpreted else "ieee"


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _module():
    try:
        from clmlf.losses.fused import triton_kernels
    except ImportError as error:
        raise ImportError("impl='triton' needs the `triton` package (pip install triton), or use impl='chunked'") from error
    return triton_kernels


def row_lse(q: Tensor, k: Tensor, beta: float, self_offset: int | None) -> Tensor:
    """q (n, d), k (m, d) -> (n,) LSE of β·q kᵀ (see :mod:`.chunked`)."""
    tk = _module()
    q, k = q.contiguous(), k.contiguous()
    (n, d), m = q.shape, k.shape[0]
    lse = q.new_empty(n, dtype=_accumulation(q))
    bk, _ = _blocks(d)
    grid = (_cdiv(n, BM),)
    tk.row_lse_kernel[grid](
        q, k, lse, n, m, d, beta, self_offset or 0, q.stride(0), k.stride(0),
        EXCLUDE=self_offset is not None, PRECISION=_precision(q, tk.INTERPRETED), BM=BM, BN=BN, BK=bk,
    )
    return lse


def row_grad(
    q: Tensor, k: Tensor, beta: float, row: Stats | None, col: Stats | None, self_offset: int | None, want_dbeta: bool
) -> tuple[Tensor, Tensor | None]:
    """dq (n, d) and ∂L/∂β (row part) — same contract as :func:`.chunked.row_grad`."""
    tk = _module()
    q, k = q.contiguous(), k.contiguous()
    (n, d), m = q.shape, k.shape[0]
    want_dbeta = want_dbeta and row is not None
    acc = _accumulation(q)
    dq = q.new_empty(q.shape, dtype=acc)
    empty = q.new_empty(0, dtype=acc)
    dbeta = q.new_zeros(n, dtype=acc) if want_dbeta else empty
    row_lse, row_w = (row.lse.contiguous(), row.weight.contiguous()) if row is not None else (empty, empty)
    col_lse, col_w = (col.lse.contiguous(), col.weight.contiguous()) if col is not None else (empty, empty)
    bk, bv = _blocks(d)
    grid = (_cdiv(n, BM), _cdiv(d, bv))
    tk.row_grad_kernel[grid](
        q, k, dq, dbeta, row_lse, row_w, col_lse, col_w, n, m, d, beta, self_offset or 0,
        q.stride(0), k.stride(0), dq.stride(0),
        HAS_ROW=row is not None, HAS_COL=col is not None, EXCLUDE=self_offset is not None, WANT_DBETA=want_dbeta,
        PRECISION=_precision(q, tk.INTERPRETED), BM=BM, BN=BN, BK=bk, BV=bv,
    )
    return dq, (dbeta.sum() if want_dbeta else None)


KERNELS = Kernels(row_lse=row_lse, row_grad=row_grad, half_operands=True)
INTERPRETER_KERNELS = Kernels(row_lse=row_lse, row_grad=row_grad)
"""Triton's interpreter has no bfloat16 dots: there half operands are upcast like every other implementation's."""


def kernels(device: torch.device) -> Kernels:
    """The Triton :class:`Kernels` for tensors on ``device``; clear errors where they cannot run."""
    tk = _module()
    if device.type != "cuda" and not tk.INTERPRETED:
        raise RuntimeError(
            f"impl='triton' got tensors on {device}; Triton kernels run on CUDA, or on CPU only in Triton's "
            "interpreter (set TRITON_INTERPRET=1 before triton is first imported). Use impl='chunked' on CPU."
        )
    return INTERPRETER_KERNELS if tk.INTERPRETED else KERNELS
