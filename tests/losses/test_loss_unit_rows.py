"""The single-process ``supcon`` / ``ntxent`` op (clmlf.losses.fused.unit_rows): equal to ``reference`` in value and
gradient (float64) over label layouts, zero and tiny rows, several row chunks; and its extra memory is the
kernels' own plus a chunk, where plain autograd keeps float32 copies of the rows."""

from __future__ import annotations

import pytest
import torch
from _live_bytes import LiveBytes
from _loss_cases import inputs, run

from clmlf.losses._common import accumulation_dtype
from clmlf.losses.fused import chunked, unit_rows, variants
from clmlf.losses.fused.row_lse import Kernels


@pytest.fixture
def lean_calls(monkeypatch):
    """Counts the calls of the op, so each test knows it ran."""
    calls = []
    original = variants.unit_row_contrast
    monkeypatch.setattr(variants, "unit_row_contrast", lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs))
    monkeypatch.setattr(unit_rows, "CHUNK_ROWS", 16)  # several chunks, a ragged last one
    return calls


def with_odd_rows(z):
    """z with row 0 set to zero and row 1 to a norm below F.normalize's eps (both take its clamped branch)."""
    z = z.detach().clone()
    z[0] = 0.0
    z[1] *= 1e-14 / z[1].norm()
    return z.requires_grad_()


@pytest.mark.parametrize("layout", ["random", "equal", "singletons", "sparse_ids"])
@pytest.mark.parametrize("n", [37, 70])
def test_supcon_equals_reference(layout, n, lean_calls):
    z, labels = inputs("lbcl/supcon", n, 12, layout, seed=n)
    value, grads = compare("lbcl/supcon", with_odd_rows(z), labels)
    assert lean_calls and value.abs() > 1e-3 and grads[0].abs().max() > 0


@pytest.mark.parametrize("n", [5, 40])
def test_ntxent_equals_reference(n, lean_calls):
    z, z_aug = inputs("dbcl/ntxent", n, 12, seed=n)
    value, grads = compare("dbcl/ntxent", with_odd_rows(z), z_aug)
    assert lean_calls and value.abs() > 1e-3


@pytest.mark.parametrize("loss,n", [("lbcl/supcon", 2), ("dbcl/ntxent", 1)])
def test_a_lone_positive_gives_zero(loss, n, lean_calls):
    """Two rows that are each other's only candidate: L = 0 with zero gradients, as in ``reference``."""
    z, second = inputs(loss, n, 6, "equal", seed=4)
    value, grads = compare(loss, z, second)
    assert lean_calls and value.abs() < 1e-12 and all(g.abs().max() < 1e-12 for g in grads)


def compare(loss, z, second):
    """Lean op (chunked kernels, float τ) vs reference in float64; returns the op's (value, grads)."""
    value, grads = run(loss, "chunked", z, second, 0.1)
    ref_value, ref_grads = run(loss, "reference", z, second, 0.1)
    torch.testing.assert_close(value, ref_value, rtol=1e-9, atol=1e-12)
    for grad, ref in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref, rtol=1e-9, atol=1e-12 * max(1.0, ref.abs().max().item()))
    return value, grads


def test_learnable_temperature_takes_the_general_path(lean_calls):
    z, labels = inputs("lbcl/supcon", 20, 8, seed=1)
    run("lbcl/supcon", "chunked", z, labels, torch.tensor(0.1, dtype=torch.float64, requires_grad=True))
    assert not lean_calls


def _kernels_with_only_their_outputs() -> Kernels:
    """Kernels that allocate what the Triton ones return (LSE, dx) and nothing else: the memory left is the op's."""
    lse = lambda x, *_: torch.zeros(x.shape[0], dtype=accumulation_dtype(x))  # noqa: E731
    grad = lambda x, *_: (torch.zeros(x.shape, dtype=accumulation_dtype(x)), None)  # noqa: E731
    return Kernels(row_lse=lse, row_grad=None, symmetric_lse=lse, symmetric_grad=grad, half_operands=True)


@pytest.mark.parametrize("loss", ["lbcl/supcon", "dbcl/ntxent"])
def test_extra_memory_is_an_operand_dx_and_chunks(loss, monkeypatch):
    """bf16 rows (M, d): the op holds at most a bf16 operand, the float32 dx and a few float32 chunks; the general
    path (forced) holds float32 copies of the rows and of several gradients."""
    n, d, chunk = 2048, 64, 256
    monkeypatch.setattr(unit_rows, "CHUNK_ROWS", chunk)
    z, second = inputs(loss, n, d, dtype=torch.bfloat16, seed=2)
    rows = 2 * n if loss == "dbcl/ntxent" else n
    peaks = {}
    for path in ("lean", "general"):
        if path == "general":
            monkeypatch.setattr(variants, "_lean", lambda *_: False)
        with LiveBytes() as memory:
            run(loss, "triton", z, second, 0.1, kernels=_kernels_with_only_their_outputs())
        peaks[path] = memory.peak
    concatenated_views = rows * d * 2 if loss == "dbcl/ntxent" else 0  # torch.cat([z, z_aug]) before the op
    budget = concatenated_views + rows * d * (2 + 4) + 5 * chunk * d * 4 + 64 * rows
    assert peaks["lean"] <= budget < peaks["general"], peaks
