"""``chunked`` kernels: tiles of the logit matrix in plain torch, recomputed in the backward pass.

Logits s_ij = β·q_i·k_j; LSE_i = log Σ_j exp(s_ij) over the admissible columns (with ``self_offset``, column
``self_offset + i`` of row i, the anchor itself, is excluded). Given ω = ∂L/∂LSE, the backward primitive is the
closed form of docs/method.md §2 (∂L/∂z = κ·H·z + ..., H_ij = ω_i p_ij + ω_j p_ji):

    dq_i = β·Σ_j E_ij k_j,   E_ij = ω_i·exp(s_ij − LSE_i)  [row part]  +  ω'_j·exp(s_ij − LSE'_j)  [column part]
    ∂L/∂β = Σ_i ω_i Σ_j p_ij (q_i·k_j)  (row part only: the share of these anchor rows)

The column part is the transposed term p_ji of a symmetric S (or, for DBCL, ∂L/∂z' with q = z', k = z).
Only a (tile, N) block of logits lives at a time: memory O(N·d + tile·N), all in the dtype of q
(float32 for half inputs, which the callers upcast). ``symmetric_*`` handle a single-process symmetric S
from upper-triangle strips only: half the matmul work in the forward pass, three quarters in the backward.
"""

from __future__ import annotations

import torch
from torch import Tensor

from clmlf.losses.fused.row_lse import Kernels, Stats

MAX_TILE_ROWS = 512
"""Upper bound on rows per tile (BLAS is efficient from a few hundred rows; tune with benchmarks/)."""
TILE_BYTES = 64 << 20
"""Budget for one (tile, N) logit block; the tile shrinks for very large N."""
EXP_FLOOR = -87.0
"""Shifted logits are clamped here before ``exp``: torch's CPU exp is 5-10x slower below float32's normal range
(about -87.3), which raw ``clmlf`` logits and small τ hit constantly. A clamped term adds < 2e-38 (a probability)."""


def tile_rows(n_keys: int) -> int:
    """Rows per tile for ``n_keys`` columns: the byte budget, clipped to [16, MAX_TILE_ROWS]."""
    return min(MAX_TILE_ROWS, max(16, TILE_BYTES // (4 * max(n_keys, 1))))


def _logits(q: Tensor, k: Tensor, beta: float, diag: int | None) -> Tensor:
    """(t, m) logits β·q kᵀ; with ``diag``, entry (i, diag + i) — the anchor itself — is -inf."""
    s = q @ k.T
    if beta != 1.0:
        s.mul_(beta)
    if diag is not None:
        s.diagonal(diag).fill_(float("-inf"))
    return s


def _probs(s: Tensor, lse: Tensor, weight: Tensor, diag: int | None, out: Tensor | None = None) -> Tensor:
    """weight·exp(s − lse) for broadcastable ``lse``/``weight``, zero at the excluded diagonal ``diag``.
    Written to ``out`` (which may be ``s`` itself), else to a new tensor."""
    e = torch.sub(s, lse, out=out).clamp_(min=EXP_FLOOR).exp_().mul_(weight)
    if diag is not None:
        e.diagonal(diag).zero_()
    return e


def _dbeta_part(weights: Tensor, s: Tensor, beta: float, diag: int | None) -> Tensor:
    """Σ_ij weights_ij·(s_ij/β), reading the excluded diagonal of ``s`` (-inf) as 0; ``s`` is left unchanged."""
    excluded = s.diagonal(diag) if diag is not None else s.new_empty(0)
    excluded.zero_()
    part = torch.dot(weights.view(-1), s.view(-1)) / beta
    excluded.fill_(float("-inf"))
    return part


def row_lse(q: Tensor, k: Tensor, beta: float, self_offset: int | None) -> Tensor:
    """q (n, d), k (m, d) -> LSE (n,) of the rows of β·q kᵀ."""
    out = q.new_empty(q.shape[0])
    step = tile_rows(k.shape[0])
    for a in range(0, q.shape[0], step):
        diag = None if self_offset is None else self_offset + a
        out[a : a + step] = _logits(q[a : a + step], k, beta, diag).logsumexp(1)
    return out


def row_grad(
    q: Tensor, k: Tensor, beta: float, row: Stats | None, col: Stats | None, self_offset: int | None, want_dbeta: bool
) -> tuple[Tensor, Tensor | None]:
    """dq (n, d) and ∂L/∂β (0-d, or None) for the row part ``row = (LSE (n,), ω (n,))`` of q's own rows and the
    column part ``col = (LSE' (m,), ω' (m,))`` of k's rows; see the module docstring."""
    dq = torch.empty_like(q)
    dbeta = q.new_zeros(()) if want_dbeta and row is not None else None
    step = tile_rows(k.shape[0])
    for a in range(0, q.shape[0], step):
        b = min(a + step, q.shape[0])
        diag = None if self_offset is None else self_offset + a
        s = _logits(q[a:b], k, beta, diag)
        e = None if row is None else _probs(s, row.lse[a:b, None], row.weight[a:b, None], diag)
        if dbeta is not None:
            dbeta += _dbeta_part(e, s, beta, diag)
        if col is not None:  # s is not needed any more: the column part overwrites it
            part = _probs(s, col.lse[None, :], col.weight[None, :], diag, out=s)
            e = part if e is None else e.add_(part)
        torch.mm(e, k, out=dq[a:b])
    return dq.mul_(beta), dbeta


def symmetric_lse(x: Tensor, beta: float, exclude_self: bool, unit_rows: bool = False) -> Tensor:
    """x (n, d) -> LSE (n,) of the rows of the symmetric β·x xᵀ, from upper-triangle strips (``unit_rows``
    is not needed here: logsumexp is stable at any scale).

    Strip a (rows a:b against columns a:) gives the rows' LSE over columns ≥ a, and, reduced over its rows,
    the LSE contributions of rows b: over columns a:b (merged online with logaddexp)."""
    n = x.shape[0]
    lse_right = x.new_empty(n)
    lse_left = x.new_full((n,), float("-inf"))
    step = tile_rows(n)
    for a in range(0, n, step):
        b = min(a + step, n)
        s = _logits(x[a:b], x[a:], beta, 0 if exclude_self else None)
        lse_right[a:b] = s.logsumexp(1)
        if b < n:
            torch.logaddexp(lse_left[b:], s[:, b - a :].logsumexp(0), out=lse_left[b:])
    return torch.logaddexp(lse_right, lse_left)


def symmetric_grad(
    x: Tensor, beta: float, stats: Stats, exclude_self: bool, want_dbeta: bool, unit_rows: bool = False
) -> tuple[Tensor, Tensor | None]:
    """dx (n, d) = β·E x with the symmetric E_ij = ω_i p_ij + ω_j p_ji, and ∂L/∂β, from upper-triangle strips.

    Strip a adds E[a:b, a:] x[a:] to rows a:b and its transpose times x[a:b] to rows a:; the diagonal block is
    halved because both products cover it. L depends on β·x xᵀ only, so ⟨x, ∂L/∂x⟩ = 2β·∂L/∂β (Euler).
    ``unit_rows`` (the Triton kernels' one-exponential hint) does not change anything here."""
    n = x.shape[0]
    dx = torch.zeros_like(x)
    step = tile_rows(n)
    for a in range(0, n, step):
        b = min(a + step, n)
        diag = 0 if exclude_self else None
        s = _logits(x[a:b], x[a:], beta, diag)
        e = _probs(s, stats.lse[a:b, None], stats.weight[a:b, None], diag)
        e.add_(_probs(s, stats.lse[None, a:], stats.weight[None, a:], diag, out=s))
        e[:, : b - a] *= 0.5
        dx[a:b].addmm_(e, x[a:])
        dx[a:].addmm_(e.T, x[a:b])
    dx.mul_(beta)
    return dx, (torch.dot(x.reshape(-1), dx.reshape(-1)) / (2 * beta) if want_dbeta else None)


def paired_grad(q: Tensor, k: Tensor, beta: float, stats: Stats, want_dbeta: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    """Single process, q ≠ k (DBCL): dq = β·E k and dk = β·Eᵀ q with E_ij = ω_i p_ij, from one pass over row
    tiles (the two-pass :func:`row_grad` form is what each rank runs across ranks). ∂L/∂β by Euler:
    ⟨q, dq⟩ + ⟨k, dk⟩ = 2β·∂L/∂β."""
    dq, dk = torch.empty_like(q), torch.zeros_like(k)
    step = tile_rows(k.shape[0])
    for a in range(0, q.shape[0], step):
        s = _logits(q[a : a + step], k, beta, None)
        e = _probs(s, stats.lse[a : a + step, None], stats.weight[a : a + step, None], None, out=s)
        torch.mm(e, k, out=dq[a : a + step])
        dk.addmm_(e.T, q[a : a + step])
    dq.mul_(beta)
    dk.mul_(beta)
    if not want_dbeta:
        return dq, dk, None
    return dq, dk, (torch.dot(q.reshape(-1), dq.reshape(-1)) + torch.dot(k.reshape(-1), dk.reshape(-1))) / (2 * beta)


KERNELS = Kernels(
    row_lse=row_lse, row_grad=row_grad, symmetric_lse=symmetric_lse, symmetric_grad=symmetric_grad, paired_grad=paired_grad
)
