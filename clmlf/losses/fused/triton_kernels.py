"""Triton kernels for :mod:`clmlf.losses.fused.triton_backend` (no N×N buffer anywhere).

Notation as in :mod:`clmlf.losses.fused.chunked`: s_ij = β·q_i·k_j over admissible columns (with EXCLUDE,
column i + self_offset of row i is dropped).

* ``row_lse_kernel`` streams key blocks and keeps an online row max and sum (any logit scale); a small grid also
  splits the columns into ranges (partial max and sum per range, merged by the caller), so that it fills the GPU.
* ``symmetric_sum_kernel`` covers a symmetric S = β·x xᵀ with the upper-triangle blocks only (half the dot
  products): each block adds its row sums to its rows and its column sums to its columns (a program takes a run of
  ``span`` blocks of its row block: the whole row for large N, fewer where the GPU would otherwise idle). The sums use a fixed
  shift c (exp(s − c), atomically added), so they need |s| ≤ c and s − c above float32's underflow: the caller
  guarantees both (unit rows, c = |β| ≤ 40).
* ``probs_kernel`` recomputes a (rows, columns) strip of the logits and writes the weights
  E_ij = ω_i·exp(s_ij − LSE_i) [row part] + ω'_j·exp(s_ij − LSE'_j) [column part] for the backward products,
  which the backend hands to cuBLAS (E·k and Eᵀ·q): the dot products are recomputed once, never per d-chunk.
* ``symmetric_probs_kernel`` is its one-exponential form for a symmetric S of unit rows under the fixed shift c:
  E_ij = exp(s_ij − c)·(A_i + A_j) with A_i = ω_i·exp(c − LSE_i) (exp(c − LSE_i) ≤ exp(2c − log(N−1)): finite).

Operands are bfloat16/float16 (tensor-core dots, float32 accumulation and statistics), float32 (3xTF32 tensor-core
dots on GPU, about float32 accuracy; IEEE in the interpreter) or float64 (IEEE).

Importing this module imports Triton; with ``TRITON_INTERPRET=1`` set *before* that import the kernels run
on CPU tensors in Triton's interpreter (used by the tests). Every ``tl.dot`` names its ``out_dtype`` (that of its
accumulator): triton < 3.8 defaults it to float32 and refuses a float64 accumulator.
"""

from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl

INTERPRETED: bool = bool(triton.knobs.runtime.interpret)
"""Whether these kernels were built for the interpreter (CPU tensors allowed)."""


@triton.jit
def _count_kernel(OUT, n):
    """OUT[0] = n, counted by a loop with a runtime bound (as every kernel below has)."""
    count = 0
    for _ in range(0, n):
        count += 1
    tl.store(OUT, count)


@functools.cache
def interpreter_runs_loops() -> bool:
    """Whether Triton's interpreter runs a loop whose bound is a kernel argument. Triton 3.6's interpreter reads
    such a bound with ``int()`` of a 1-element array, which numpy >= 2.4 refuses (triton 3.7 fixed it)."""
    out = torch.zeros(1, dtype=torch.int32)
    try:
        _count_kernel[(1,)](out, 3)
    except (triton.runtime.errors.InterpreterError, TypeError):
        return False
    return out.item() == 3


@triton.jit
def _dots(Q, K, rows, cols, n, m, d, stride_q, stride_k, ACC: tl.constexpr, PRECISION: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    """(BM, BN) block of q_rows · k_colsᵀ in dtype ACC, summed over d in chunks of BK."""
    acc = tl.zeros([BM, BN], dtype=ACC)
    for start in range(0, d, BK):
        ks = start + tl.arange(0, BK)
        q = tl.load(Q + rows[:, None] * stride_q + ks[None, :], mask=(rows[:, None] < n) & (ks[None, :] < d), other=0.0)
        k = tl.load(K + cols[:, None] * stride_k + ks[None, :], mask=(cols[:, None] < m) & (ks[None, :] < d), other=0.0)
        acc = tl.dot(q, tl.trans(k), acc, input_precision=PRECISION, out_dtype=ACC)
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
    Q, K, MAX, SUM, n, m, d, beta, self_offset, span, stride_q, stride_k,
    EXCLUDE: tl.constexpr, FINAL: tl.constexpr, PRECISION: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
):
    """For the BM rows of program (i, c) over column blocks c·span .. (c + 1)·span − 1 (grid: cdiv(n, BM),
    cdiv(cdiv(m, BN), span)): the running max and Σ exp(s − max) into MAX[c, rows], SUM[c, rows], which the caller
    merges over c; with FINAL (a single column range), LSE = max + log(sum) straight into MAX."""
    rows = tl.program_id(0) * BM + tl.arange(0, BM)
    first = tl.program_id(1) * span * BN
    acc_dtype = MAX.dtype.element_ty
    run_max = tl.full([BM], float("-inf"), dtype=acc_dtype)
    run_sum = tl.zeros([BM], dtype=acc_dtype)
    for start in range(first, tl.minimum(first + span * BN, m), BN):
        cols = start + tl.arange(0, BN)
        s = _masked(_dots(Q, K, rows, cols, n, m, d, stride_q, stride_k, acc_dtype, PRECISION, BM, BN, BK) * beta, rows, cols, m, self_offset, EXCLUDE)
        new_max = tl.maximum(run_max, tl.max(s, 1))
        shift = tl.where(new_max == float("-inf"), 0.0, new_max)
        run_sum = run_sum * tl.exp(run_max - shift) + tl.sum(tl.exp(s - shift[:, None]), 1)
        run_max = new_max
    out = tl.program_id(1) * n + rows
    if FINAL:
        tl.store(MAX + out, run_max + tl.log(run_sum), mask=rows < n)
    else:
        tl.store(MAX + out, run_max, mask=rows < n)
        tl.store(SUM + out, run_sum, mask=rows < n)


@triton.jit
def symmetric_sum_kernel(
    X, SUM, n, d, beta, shift, span, stride_x,
    EXCLUDE: tl.constexpr, PRECISION: tl.constexpr, B: tl.constexpr, BK: tl.constexpr,
):
    """SUM[i] += Σ_j exp(s_ij − shift) over the blocks (row block r of program (r, c), column blocks r + c·span ..
    r + (c + 1)·span − 1, those that exist) of the symmetric S (grid: cdiv(n, B), cdiv(cdiv(n, B), span)); SUM starts
    at zero. Row sums stay in registers until the program ends, column sums are atomic."""
    block = tl.program_id(0)
    rows = block * B + tl.arange(0, B)
    first = (block + tl.program_id(1) * span) * B
    acc_dtype = SUM.dtype.element_ty
    row_sum = tl.zeros([B], dtype=acc_dtype)
    for start in range(first, tl.minimum(first + span * B, n), B):
        cols = start + tl.arange(0, B)
        s = _dots(X, X, rows, cols, n, n, d, stride_x, stride_x, acc_dtype, PRECISION, B, B, BK) * beta - shift
        admissible = (rows[:, None] < n) & (cols[None, :] < n)
        if EXCLUDE:
            admissible &= cols[None, :] != rows[:, None]
        e = tl.where(admissible, tl.exp(s), 0.0)
        row_sum += tl.sum(e, 1)
        if start != block * B:  # off-diagonal block: it also stands for its mirror image below the diagonal
            tl.atomic_add(SUM + cols, tl.sum(e, 0), mask=cols < n)
    tl.atomic_add(SUM + rows, row_sum, mask=rows < n)


@triton.jit
def probs_kernel(
    Q, K, E, DBETA, ROW_LSE, ROW_W, COL_LSE, COL_W, n, m, d, beta, diag, half_below, stride_q, stride_k, stride_e,
    HAS_ROW: tl.constexpr, HAS_COL: tl.constexpr, EXCLUDE: tl.constexpr, WANT_DBETA: tl.constexpr, PRECISION: tl.constexpr,
    BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
):
    """E[i, j] for a (BM, BN) block of the (n, m) strip q kᵀ (grid: cdiv(n, BM), cdiv(m, BN)): the row and/or
    column parts (module docstring), zero at the excluded column j = i + diag (EXCLUDE) and where the weight is
    zero, halved in columns j < half_below. With WANT_DBETA, DBETA[i] += Σ_j (row part)_ij·(q_i·k_j)."""
    rows = tl.program_id(0) * BM + tl.arange(0, BM)
    cols = tl.program_id(1) * BN + tl.arange(0, BN)
    acc_dtype = ROW_LSE.dtype.element_ty  # an empty tensor of the statistics' dtype when there is no row part
    dots = _dots(Q, K, rows, cols, n, m, d, stride_q, stride_k, acc_dtype, PRECISION, BM, BN, BK)
    s = dots * beta
    e = tl.zeros([BM, BN], dtype=acc_dtype)
    if HAS_ROW:
        row_lse = tl.load(ROW_LSE + rows, mask=rows < n, other=0.0)
        row_w = tl.load(ROW_W + rows, mask=rows < n, other=0.0)
        e += tl.where(row_w[:, None] == 0, 0.0, row_w[:, None] * tl.exp(s - row_lse[:, None]))
    if HAS_COL:
        col_lse = tl.load(COL_LSE + cols, mask=cols < m, other=0.0)
        col_w = tl.load(COL_W + cols, mask=cols < m, other=0.0)
        col_part = tl.where(col_w[None, :] == 0, 0.0, col_w[None, :] * tl.exp(s - col_lse[None, :]))
    keep = (rows[:, None] < n) & (cols[None, :] < m)
    if EXCLUDE:
        keep &= cols[None, :] != rows[:, None] + diag
    e = tl.where(keep, e, 0.0)
    if WANT_DBETA:
        tl.atomic_add(DBETA + rows, tl.sum(e * dots, 1), mask=rows < n)
    if HAS_COL:
        e += tl.where(keep, col_part, 0.0)
    e = tl.where(cols[None, :] < half_below, 0.5 * e, e)
    tl.store(E + rows[:, None] * stride_e + cols[None, :], e.to(E.dtype.element_ty), mask=(rows[:, None] < n) & (cols[None, :] < m))


@triton.jit
def symmetric_probs_kernel(
    X, XC, E, A, AC, n, m, d, beta, shift, diag, half_below, stride_x, stride_e,
    EXCLUDE: tl.constexpr, PRECISION: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
):
    """E[i, j] = exp(s_ij − shift)·(A[i] + AC[j]) for a (BM, BN) block of the (n, m) strip x xcᵀ (grid:
    cdiv(n, BM), cdiv(m, BN)); zero at j = i + diag (EXCLUDE), halved in columns j < half_below."""
    rows = tl.program_id(0) * BM + tl.arange(0, BM)
    cols = tl.program_id(1) * BN + tl.arange(0, BN)
    a_rows = tl.load(A + rows, mask=rows < n, other=0.0)
    a_cols = tl.load(AC + cols, mask=cols < m, other=0.0)
    s = _dots(X, XC, rows, cols, n, m, d, stride_x, stride_x, A.dtype.element_ty, PRECISION, BM, BN, BK) * beta - shift
    e = tl.exp(s) * (a_rows[:, None] + a_cols[None, :])
    keep = (rows[:, None] < n) & (cols[None, :] < m)
    if EXCLUDE:
        keep &= cols[None, :] != rows[:, None] + diag
    e = tl.where(keep, e, 0.0)
    e = tl.where(cols[None, :] < half_below, 0.5 * e, e)
    tl.store(E + rows[:, None] * stride_e + cols[None, :], e.to(E.dtype.element_ty), mask=(rows[:, None] < n) & (cols[None, :] < m))
