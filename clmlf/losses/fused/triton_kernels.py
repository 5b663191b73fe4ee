"""Triton kernels for :mod:`clmlf.losses.fused.triton_backend` (flash-attention style, no N×N buffer).

Notation as in :mod:`clmlf.losses.fused.chunked`: s_ij = β·q_i·k_j over admissible columns (with EXCLUDE,
column i + self_offset of row i is dropped). The forward kernel streams key blocks and keeps only an online
row max and sum (LSE); the backward kernel recomputes each (BM, BN) logit block from the saved LSE and
accumulates dq_i = β·Σ_j E_ij k_j (E: row part ω_i p_ij and/or column part ω'_j exp(s_ij − LSE'_j)).
Operands are bfloat16/float16 (tensor-core dots, float32 accumulation and statistics), float32 (3xTF32 tensor-core
dots on GPU, about float32 accuracy; IEEE in the interpreter) or float64 (IEEE); the output pointers (LSE, DQ) carry
the accumulation dtype.

Importing this module imports Triton; with ``TRITON_INTERPRET=1`` set *before* that import the kernels run
on CPU tensors in Triton's interpreter (used by the tests).
"""

from __future__ import annotations

import triton
import triton.language as tl

INTERPRETED: bool = bool(triton.knobs.runtime.interpret)
"""Whether these kernels were built for the interpreter (CPU tensors allowed)."""


@triton.jit
def _dots(Q, K, rows, cols, n, m, d, stride_q, stride_k, ACC: tl.constexpr, PRECISION: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    """(BM, BN) block of q_rows · k_colsᵀ in dtype ACC, summed over d in chunks of BK."""
    acc = tl.zeros([BM, BN], dtype=ACC)
    for start in range(0, d, BK):
        ks = start + tl.arange(0, BK)
        q = tl.load(Q + rows[:, None] * stride_q + ks[None, :], mask=(rows[:, None] < n) & (ks[None, :] < d), other=0.0)
        k = tl.load(K + cols[:, None] * stride_k + ks[None, :], mask=(cols[:, None] < m) & (ks[None, :] < d), other=0.0)
        acc = tl.dot(q, tl.trans(k), acc, input_precision=PRECISION)
    return acc


@triton.jit
def _masked(s, rows, cols, m, self_offset, EXCLUDE: tl.constexpr):
    """``s`` with padded columns and (with EXCLUDE) each row's own column set to -inf."""
    s = tl.where(cols[None, :] < m, s, float("-inf"))
    if EXCLUDE:
        s = tl.where(cols[None, :] == rows[:, None] + self_offset, float("-inf"), s)
    return s


@triton.jit
def row_lse_kernel(
    Q, K, LSE, n, m, d, beta, self_offset, stride_q, stride_k,
    EXCLUDE: tl.constexpr, PRECISION: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
):
    """LSE[i] = log Σ_j exp(s_ij) for the BM rows of this program (grid: cdiv(n, BM))."""
    rows = tl.program_id(0) * BM + tl.arange(0, BM)
    acc_dtype = LSE.dtype.element_ty
    run_max = tl.full([BM], float("-inf"), dtype=acc_dtype)
    run_sum = tl.zeros([BM], dtype=acc_dtype)
    for start in range(0, m, BN):
        cols = start + tl.arange(0, BN)
        s = _masked(_dots(Q, K, rows, cols, n, m, d, stride_q, stride_k, acc_dtype, PRECISION, BM, BN, BK) * beta, rows, cols, m, self_offset, EXCLUDE)
        new_max = tl.maximum(run_max, tl.max(s, 1))
        shift = tl.where(new_max == float("-inf"), 0.0, new_max)
        run_sum = run_sum * tl.exp(run_max - shift) + tl.sum(tl.exp(s - shift[:, None]), 1)
        run_max = new_max
    tl.store(LSE + rows, run_max + tl.log(run_sum), mask=rows < n)


@triton.jit
def row_grad_kernel(
    Q, K, DQ, DBETA, ROW_LSE, ROW_W, COL_LSE, COL_W, n, m, d, beta, self_offset, stride_q, stride_k, stride_dq,
    HAS_ROW: tl.constexpr, HAS_COL: tl.constexpr, EXCLUDE: tl.constexpr, WANT_DBETA: tl.constexpr, PRECISION: tl.constexpr,
    BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, BV: tl.constexpr,
):
    """dq[rows, vs] = β·Σ_j E_ij k_j[vs] for a (BM, BV) output block (grid: cdiv(n, BM), cdiv(d, BV));
    with WANT_DBETA the first column block also writes DBETA[i] = Σ_j ω_i p_ij (q_i·k_j)."""
    rows = tl.program_id(0) * BM + tl.arange(0, BM)
    vs = tl.program_id(1) * BV + tl.arange(0, BV)
    dtype = DQ.dtype.element_ty
    acc = tl.zeros([BM, BV], dtype=dtype)
    dbeta = tl.zeros([BM], dtype=dtype)
    if HAS_ROW:
        row_lse = tl.load(ROW_LSE + rows, mask=rows < n, other=0.0)
        row_w = tl.load(ROW_W + rows, mask=rows < n, other=0.0)
    for start in range(0, m, BN):
        cols = start + tl.arange(0, BN)
        dots = _dots(Q, K, rows, cols, n, m, d, stride_q, stride_k, dtype, PRECISION, BM, BN, BK)
        s = _masked(dots * beta, rows, cols, m, self_offset, EXCLUDE)
        e = tl.zeros([BM, BN], dtype=dtype)
        if HAS_ROW:
            e += row_w[:, None] * tl.exp(s - row_lse[:, None])
            if WANT_DBETA:
                dbeta += tl.sum(e * dots, 1)
        if HAS_COL:
            col_lse = tl.load(COL_LSE + cols, mask=cols < m, other=0.0)
            col_w = tl.load(COL_W + cols, mask=cols < m, other=0.0)
            e += col_w[None, :] * tl.exp(s - col_lse[None, :])
        kv = tl.load(K + cols[:, None] * stride_k + vs[None, :], mask=(cols[:, None] < m) & (vs[None, :] < d), other=0.0)
        acc = tl.dot(e.to(kv.dtype), kv, acc, input_precision=PRECISION)
    tl.store(DQ + rows[:, None] * stride_dq + vs[None, :], acc * beta, mask=(rows[:, None] < n) & (vs[None, :] < d))
    if WANT_DBETA:
        tl.store(DBETA + rows, dbeta, mask=(rows < n) & (tl.program_id(1) == 0))
