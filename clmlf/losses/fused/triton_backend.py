"""``triton`` implementation: launches :mod:`.triton_kernels` behind the :class:`Kernels` interface.

Forward: the row LSE from Triton blocks (upper-triangle blocks only for a symmetric S of unit rows). Backward:
Triton recomputes the logits of a strip of rows once and writes its weights E (``probs_kernel``, or for unit
rows ``symmetric_probs_kernel`` with one exponential per logit); cuBLAS
multiplies E by the rows (float32 accumulation). A strip holds ``strip_rows`` rows: about STRIP_BYTES of E, and
at least MIN_STRIP_ROWS so the products stay compute-bound. For a symmetric S the strips cover the upper
triangle only (as :func:`.chunked.symmetric_grad`), so one fwd+bwd does 4·N²·d flops, the floor.
Triton is imported lazily (``import clmlf`` works without it). Half-precision operands stay half (tensor-core
dots); statistics and gradients come back in float32.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from clmlf.losses._common import accumulation_dtype
from clmlf.losses.fused.row_lse import Kernels, Stats

SYMMETRIC_SUM = {"B": 128, "BK": 64, "num_warps": 8, "num_stages": 4}
"""Launch configuration of ``symmetric_sum_kernel`` (B: rows = columns of a block; BK: d-chunk, clipped per dtype)."""
SYMMETRIC_PROBS = {"BM": 128, "BN": 256, "BK": 64, "num_warps": 8, "num_stages": 3}
BLOCKS = {"BM": 128, "BN": 128, "BK": 64, "num_warps": 8, "num_stages": 4}
"""Launch configuration of the other kernels (a (BM, BN) logit block). These three were the fastest of the
configurations tried on an H200 at N = 32,768, d = 768, bf16 (benchmarks/tune_triton.py;
benchmarks/measured/tuning/h200_triton_configs_2026-11-28.json)."""
STRIP_BYTES = 64 << 20
MIN_STRIP_ROWS = 1024
MAX_FIXED_SHIFT = 40.0
"""Largest |β| for the fixed-shift symmetric sums: exp(s − |β|) ≥ exp(−2|β|) stays a normal float32."""
PROGRAMS_PER_SM = 4
"""A forward launch with fewer row blocks than multiprocessors splits each row's columns into runs, for about this
many programs per multiprocessor (N below 128 × SMs: at N = 2048 one program per 128-row block would leave 116 of an
H200's 132 SMs idle; from N = 16,896 on an H200 the launch is the tuned one program per row block)."""
SHARED_MEMORY = 200 << 10
"""Shared memory the pipeline stages of one block may take (an H100/H200 SM has 227 KiB)."""


def _launch(config: dict, x: Tensor) -> dict:
    """``config`` with its d-chunk BK clipped to d (a power of two ≥ 16) and to what fits SHARED_MEMORY: each
    pipeline stage holds a (BM, BK) and a (BN, BK) chunk of x's dtype. In the interpreter (tests) blocks are at
    most 64 wide: faster there, and small inputs still span several blocks."""
    rows = 2 * config["B"] if "B" in config else config["BM"] + config["BN"]
    fits = SHARED_MEMORY // (config["num_stages"] * rows * x.element_size())
    width = max(16, 1 << (x.shape[1] - 1).bit_length())
    launch = {**config, "BK": max(16, min(config["BK"], width, 1 << (fits.bit_length() - 1)))}
    if _module().INTERPRETED:
        launch.update({key: min(launch[key], 64) for key in ("B", "BM", "BN") if key in launch})
    return launch


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


def strip_rows(n_rows: int, n_cols: int, itemsize: int) -> int:
    """Rows per backward strip of E against ``n_cols`` columns (see the module docstring)."""
    return min(n_rows, max(MIN_STRIP_ROWS, STRIP_BYTES // (itemsize * max(n_cols, 1))))


def _add_product(out: Tensor, a: Tensor, b: Tensor) -> None:
    """out += a @ b, half operands accumulated in the float32 ``out`` by cuBLAS (``out_dtype``)."""
    if a.dtype == out.dtype:
        out.addmm_(a, b)
        return
    try:
        torch.addmm(out, a, b, out_dtype=out.dtype, out=out)
    except (RuntimeError, TypeError):  # a torch or backend without out_dtype: exact, slower
        out.addmm_(a.to(out.dtype), b.to(out.dtype))


@functools.cache
def _multiprocessors(device: torch.device) -> int:
    """Streaming multiprocessors of ``device`` (4 in the interpreter, so that small test inputs take the split paths)."""
    if _module().INTERPRETED:
        return 4
    return torch.cuda.get_device_properties(device).multi_processor_count


def _span(row_blocks: int, col_blocks: int, work: int, device: torch.device) -> int:
    """Column blocks per program: a whole row (one program per row block, the tuned large-N launch) when there are
    at least as many row blocks as multiprocessors, else equal runs short enough that about PROGRAMS_PER_SM
    programs per multiprocessor share the ``work`` (in blocks)."""
    if row_blocks >= _multiprocessors(device):
        return col_blocks
    span = max(1, min(col_blocks, _cdiv(work, PROGRAMS_PER_SM * _multiprocessors(device))))
    return _cdiv(col_blocks, _cdiv(col_blocks, span))


def row_lse(q: Tensor, k: Tensor, beta: float, self_offset: int | None) -> Tensor:
    """q (n, d), k (m, d) -> (n,) LSE of β·q kᵀ (see :mod:`.chunked`); a grid of few row blocks also splits the
    columns, each range giving a partial max and sum that are merged here."""
    tk = _module()
    q, k = q.contiguous(), k.contiguous()
    (n, d), m = q.shape, k.shape[0]
    launch = _launch(BLOCKS, q)
    row_blocks, col_blocks = _cdiv(n, launch["BM"]), _cdiv(m, launch["BN"])
    span = _span(row_blocks, col_blocks, row_blocks * col_blocks, q.device)
    ranges = _cdiv(col_blocks, span)
    peak = q.new_empty(ranges, n, dtype=accumulation_dtype(q))
    total = peak if ranges == 1 else torch.empty_like(peak)
    tk.row_lse_kernel[(row_blocks, ranges)](
        q, k, peak, total, n, m, d, beta, self_offset or 0, span, q.stride(0), k.stride(0),
        EXCLUDE=self_offset is not None, FINAL=ranges == 1, PRECISION=_precision(q, tk.INTERPRETED), **launch,
    )
    return peak[0] if ranges == 1 else total.log_().add_(peak).logsumexp(0)


def _fixed_shift(beta: float, unit_rows: bool) -> bool:
    """Whether the fixed shift c = |β| serves a symmetric S of these rows (see :mod:`.triton_kernels`)."""
    return unit_rows and abs(beta) <= MAX_FIXED_SHIFT


def symmetric_lse(x: Tensor, beta: float, exclude_self: bool, unit_rows: bool) -> Tensor:
    """x (n, d) -> (n,) LSE of the symmetric β·x xᵀ: upper-triangle blocks with a fixed shift |β| when the rows
    have unit norm (|s| ≤ |β|) and |β| ≤ MAX_FIXED_SHIFT, else the online :func:`row_lse` over all blocks."""
    if not _fixed_shift(beta, unit_rows):
        return row_lse(x, x, beta, 0 if exclude_self else None)
    tk = _module()
    x = x.contiguous()
    n, d = x.shape
    sums = x.new_zeros(n, dtype=accumulation_dtype(x))
    shift = abs(beta)
    launch = _launch(SYMMETRIC_SUM, x)
    blocks = _cdiv(n, launch["B"])
    span = _span(blocks, blocks, blocks * (blocks + 1) // 2, x.device)
    tk.symmetric_sum_kernel[(blocks, _cdiv(blocks, span))](
        x, sums, n, d, beta, shift, span, x.stride(0), EXCLUDE=exclude_self, PRECISION=_precision(x, tk.INTERPRETED), **launch
    )
    return sums.log_().add_(shift)


def _probs(q: Tensor, k: Tensor, beta: float, row: Stats | None, col: Stats | None, diag: int | None, half_below: int = 0, dbeta: Tensor | None = None) -> Tensor:
    """(n, m) strip E of ``probs_kernel`` in q's dtype for q (n, d) rows against k (m, d); ``diag``: the excluded
    column offset (j = i + diag) or None; ``dbeta`` (n,): accumulates the row part's Σ_j E_ij q_i·k_j."""
    tk = _module()
    (n, d), m = q.shape, k.shape[0]
    stats = row if row is not None else col
    empty = stats.lse.new_empty(0)
    row_lse, row_w = (row.lse, row.weight) if row is not None else (empty, empty)
    col_lse, col_w = (col.lse, col.weight) if col is not None else (empty, empty)
    e = q.new_empty(n, m)
    launch = _launch(BLOCKS, q)
    tk.probs_kernel[(_cdiv(n, launch["BM"]), _cdiv(m, launch["BN"]))](
        q, k, e, empty if dbeta is None else dbeta, row_lse, row_w, col_lse, col_w, n, m, d, beta, diag or 0, half_below,
        q.stride(0), k.stride(0), e.stride(0),
        HAS_ROW=row is not None, HAS_COL=col is not None, EXCLUDE=diag is not None, WANT_DBETA=dbeta is not None,
        PRECISION=_precision(q, tk.INTERPRETED), **launch,
    )
    return e


def _rows(stats: Stats | None, a: int, b: int) -> Stats | None:
    return None if stats is None else Stats(stats.lse[a:b], stats.weight[a:b])


def row_grad(
    q: Tensor, k: Tensor, beta: float, row: Stats | None, col: Stats | None, self_offset: int | None, want_dbeta: bool
) -> tuple[Tensor, Tensor | None]:
    """dq (n, d) and ∂L/∂β (row part) — same contract as :func:`.chunked.row_grad`."""
    q, k = q.contiguous(), k.contiguous()
    (n, _), m = q.shape, k.shape[0]
    acc = accumulation_dtype(q)
    dq = q.new_zeros(q.shape, dtype=acc)
    dbeta = q.new_zeros(n, dtype=acc) if want_dbeta and row is not None else None
    step = strip_rows(n, m, q.element_size())
    for a in range(0, n, step):
        b = min(a + step, n)
        diag = None if self_offset is None else self_offset + a
        e = _probs(q[a:b], k, beta, _rows(row, a, b), col, diag, dbeta=None if dbeta is None else dbeta[a:b])
        _add_product(dq[a:b], e, k)
    return dq.mul_(beta), (dbeta.sum() if dbeta is not None else None)


def _symmetric_probs(x: Tensor, a: int, b: int, beta: float, weights: Tensor, exclude_self: bool) -> Tensor:
    """(b − a, n − a) strip E of ``symmetric_probs_kernel`` (rows a:b against columns a:) in x's dtype;
    ``weights`` (n,): A_i = ω_i·exp(|β| − LSE_i)."""
    tk = _module()
    n, d = x.shape
    e = x.new_empty(b - a, n - a)
    launch = _launch(SYMMETRIC_PROBS, x)
    tk.symmetric_probs_kernel[(_cdiv(b - a, launch["BM"]), _cdiv(n - a, launch["BN"]))](
        x[a:b], x[a:], e, weights[a:b], weights[a:], b - a, n - a, d, beta, abs(beta), 0, b - a, x.stride(0), e.stride(0),
        EXCLUDE=exclude_self, PRECISION=_precision(x, tk.INTERPRETED), **launch,
    )
    return e


def symmetric_grad(
    x: Tensor, beta: float, stats: Stats, exclude_self: bool, want_dbeta: bool, unit_rows: bool = False
) -> tuple[Tensor, Tensor | None]:
    """dx = β·E x for the symmetric E_ij = ω_i p_ij + ω_j p_ji from upper-triangle strips (as
    :func:`.chunked.symmetric_grad`); one exponential per logit under the fixed shift (``unit_rows``)."""
    x = x.contiguous()
    n = x.shape[0]
    dx = x.new_zeros(x.shape, dtype=accumulation_dtype(x))
    factored = _fixed_shift(beta, unit_rows)
    if factored:
        weights = torch.where(stats.weight == 0, 0.0, stats.weight * torch.exp(abs(beta) - stats.lse))
    step = strip_rows(n, n, x.element_size())
    for a in range(0, n, step):
        b = min(a + step, n)
        if factored:
            e = _symmetric_probs(x, a, b, beta, weights, exclude_self)
        else:
            strip = Stats(stats.lse[a:], stats.weight[a:])
            e = _probs(x[a:b], x[a:], beta, _rows(stats, a, b), strip, 0 if exclude_self else None, half_below=b - a)
        _add_product(dx[a:b], e, x[a:])
        _add_product(dx[a:], e.T, x[a:b])
    dx.mul_(beta)
    return dx, (torch.dot(x.reshape(-1).to(dx.dtype), dx.reshape(-1)) / (2 * beta) if want_dbeta else None)


def paired_grad(q: Tensor, k: Tensor, beta: float, stats: Stats, want_dbeta: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    """dq = β·E k and dk = β·Eᵀ q with E_ij = ω_i p_ij, one pass over strips (as :func:`.chunked.paired_grad`)."""
    q, k = q.contiguous(), k.contiguous()
    acc = accumulation_dtype(q)
    dq, dk = q.new_zeros(q.shape, dtype=acc), k.new_zeros(k.shape, dtype=acc)
    n, m = q.shape[0], k.shape[0]
    step = strip_rows(n, m, q.element_size())
    for a in range(0, n, step):
        b = min(a + step, n)
        e = _probs(q[a:b], k, beta, _rows(stats, a, b), None, None)
        _add_product(dq[a:b], e, k)
        _add_product(dk, e.T, q[a:b])
    dq.mul_(beta)
    dk.mul_(beta)
    if not want_dbeta:
        return dq, dk, None
    flat = lambda t: t.reshape(-1).to(acc)  # noqa: E731
    return dq, dk, (torch.dot(flat(q), flat(dq)) + torch.dot(flat(k), flat(dk))) / (2 * beta)


_PRIMITIVES = {"row_lse": row_lse, "row_grad": row_grad, "symmetric_lse": symmetric_lse, "symmetric_grad": symmetric_grad, "paired_grad": paired_grad}
KERNELS = Kernels(**_PRIMITIVES, half_operands=True)
INTERPRETER_KERNELS = Kernels(**_PRIMITIVES)
"""Triton's interpreter has no bfloat16 dots: there half operands are upcast like every other implementation's."""


def kernels(device: torch.device) -> Kernels:
    """The Triton :class:`Kernels` for tensors on ``device``; clear errors where they cannot run."""
    tk = _module()
    if device.type != "cuda" and not tk.INTERPRETED:
        raise RuntimeError(
            f"impl='triton' got tensors on {device}; Triton kernels run on CUDA, or on CPU only in Triton's "
            "interpreter (set TRITON_INTERPRET=1 before triton is first imported). Use impl='chunked' on CPU."
        )
    if not tk.INTERPRETED:
        return KERNELS
    if not tk.interpreter_runs_loops():
        raise RuntimeError(
            "impl='triton' on CPU: this Triton's interpreter cannot run loops with runtime bounds (triton 3.6's "
            "interpreter with numpy >= 2.4). Install triton >= 3.7 or numpy < 2.4, or use impl='chunked' on CPU."
        )
    return INTERPRETER_KERNELS
