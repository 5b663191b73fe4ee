"""``impl="triton"`` on CPU in Triton's interpreter: TRITON_INTERPRET=1 is set here, at collection, before
anything imports the kernels (they are imported lazily on the first triton call). Sizes stay small."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from _loss_cases import LOSSES, inputs, run, triton_refusal  # noqa: E402

from clmlf.losses import fused, lbcl  # noqa: E402

pytest.importorskip("triton")
_built = sys.modules.get("clmlf.losses.fused.triton_kernels")
if os.environ["TRITON_INTERPRET"] != "1" or getattr(_built, "INTERPRETED", True) is False:
    pytest.skip("Triton kernels were already built without the interpreter", allow_module_level=True)
_refusal = triton_refusal()
if _refusal:  # an interpreter that cannot run these kernels: the error names versions and fix
    pytest.skip(_refusal, allow_module_level=True)


@pytest.mark.parametrize("n,d", [(3, 3), (70, 20), (130, 40)])
@pytest.mark.parametrize("loss", LOSSES)
def test_triton_equals_reference(loss, n, d):
    """n = 70, 130 are not multiples of the 64-row blocks; d = 20, 40 not multiples of the d-chunks."""
    z, second = inputs(loss, n, d, "equal" if n == 3 else "random", seed=n)
    tau = lambda: torch.tensor(0.1, dtype=torch.float64, requires_grad=True)  # noqa: E731
    value, grads = run(loss, "triton", z, second, tau())
    ref_value, ref_grads = run(loss, "reference", z, second, tau())
    torch.testing.assert_close(value, ref_value, rtol=1e-6, atol=1e-12)
    for grad, ref in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref, rtol=1e-6, atol=1e-12 * ref.abs().max().item())
    assert value.abs() > 1e-3


@pytest.mark.parametrize("tau", [0.1, 0.02])
@pytest.mark.parametrize("loss", LOSSES)
def test_triton_backward_strips_and_both_forward_paths(loss, tau, monkeypatch):
    """16-row backward strips (diagonal blocks, ragged last strip); τ = 0.1 takes the fixed-shift upper-triangle
    forward for unit rows, τ = 0.02 (|β| = 50 > MAX_FIXED_SHIFT) the online row LSE."""
    from clmlf.losses.fused import triton_backend

    monkeypatch.setattr(triton_backend, "MIN_STRIP_ROWS", 16)
    monkeypatch.setattr(triton_backend, "STRIP_BYTES", 1)
    z, second = inputs(loss, 150, 24, seed=7)
    value, grads = run(loss, "triton", z, second, tau)
    ref_value, ref_grads = run(loss, "reference", z, second, tau)
    torch.testing.assert_close(value, ref_value, rtol=1e-6, atol=1e-12)
    for grad, ref in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref, rtol=1e-6, atol=1e-12 * ref.abs().max().item())
    assert value.abs() > 1e-3


@pytest.mark.parametrize("loss", LOSSES)
def test_triton_float32_and_bfloat16(loss):
    for dtype, rtol in [(torch.float32, 1e-5), (torch.bfloat16, 1e-5)]:
        z, second = inputs(loss, 50, 16, dtype=dtype, seed=2)
        value, grads = run(loss, "triton", z, second, 0.07)
        ref_value, ref_grads = run(loss, "reference", z, second, 0.07)
        torch.testing.assert_close(value, ref_value, rtol=rtol, atol=1e-6)
        for grad, ref in zip(grads, ref_grads):
            assert grad.dtype == dtype
            torch.testing.assert_close(grad.float(), ref.float(), rtol=1e-2, atol=1e-2 * ref.abs().max().item())


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32, torch.float64])
def test_launch_configurations_fit_in_shared_memory(dtype, monkeypatch):
    """The pipeline stages of every kernel's blocks fit SHARED_MEMORY for every operand dtype at d = 768 (a GPU
    refuses larger ones at launch), with the d-chunk BK still a power of two ≥ 16."""
    from clmlf.losses.fused import triton_backend, triton_kernels

    monkeypatch.setattr(triton_kernels, "INTERPRETED", False)
    x = torch.empty(4, 768, dtype=dtype)
    for config in (triton_backend.SYMMETRIC_SUM, triton_backend.SYMMETRIC_PROBS, triton_backend.BLOCKS):
        launch = triton_backend._launch(config, x)
        rows = 2 * launch["B"] if "B" in launch else launch["BM"] + launch["BN"]
        assert launch["num_stages"] * rows * launch["BK"] * x.element_size() <= triton_backend.SHARED_MEMORY
        assert launch["BK"] >= 16 and launch["BK"] & (launch["BK"] - 1) == 0


@pytest.mark.parametrize("sms,per_sm", [(1, 4), (5, 1), (16, 4)])
def test_forward_column_runs_give_the_same_row_lse(sms, per_sm, monkeypatch):
    """Fewer row blocks than multiprocessors split each row's columns into runs (partial max and sum, merged after).
    With the interpreter's 64-wide blocks and 130 × 200 logits: 1 SM, no split; 5 SMs wanting 1 program each, two
    runs of two column blocks; 16 SMs wanting 4 each, runs of one block. Every split gives the fp64 logsumexp,
    also for row 64 of 65 rows without self, whose second run holds only its own, excluded, column."""
    from clmlf.losses.fused import triton_backend

    monkeypatch.setattr(triton_backend, "_multiprocessors", lambda device: sms)
    monkeypatch.setattr(triton_backend, "PROGRAMS_PER_SM", per_sm)
    assert triton_backend._span(3, 4, 12, torch.device("cpu")) == {1: 4, 5: 2, 16: 1}[sms]
    torch.manual_seed(sms)
    q, k = torch.randn(130, 20, dtype=torch.float64), torch.randn(200, 20, dtype=torch.float64)
    torch.testing.assert_close(triton_backend.row_lse(q, k, 3.0, None), (3.0 * q @ k.T).logsumexp(1), rtol=1e-12, atol=0)
    for n in (150, 65):
        x = torch.nn.functional.normalize(torch.randn(n, 20, dtype=torch.float64), dim=1)
        expected = (10.0 * x @ x.T).fill_diagonal_(float("-inf")).logsumexp(1)
        torch.testing.assert_close(triton_backend.row_lse(x, x, 10.0, 0), expected, rtol=1e-12, atol=0)
        torch.testing.assert_close(triton_backend.symmetric_lse(x, 10.0, True, True), expected, rtol=1e-12, atol=0)


def test_triton_edge_cases():
    z, labels = inputs("lbcl/supcon", 6, 4, "distinct")
    value = lbcl(z, labels, impl="triton")
    assert value == 0 and value.requires_grad
    z1, labels1 = inputs("lbcl/clmlf", 1, 4)
    assert lbcl(z1, labels1, variant="clmlf", impl="triton").abs() < 1e-12
    z, labels = inputs("lbcl/clmlf", 20, 8, scale=1e3, seed=3)
    torch.testing.assert_close(
        lbcl(z, labels, variant="clmlf", impl="triton"), lbcl(z, labels, variant="clmlf", impl="reference"), rtol=1e-9, atol=0
    )


def test_triton_on_cpu_without_interpreter_is_a_clear_error(monkeypatch):
    from clmlf.losses.fused import triton_kernels

    monkeypatch.setattr(triton_kernels, "INTERPRETED", False)
    z, labels = inputs("lbcl/supcon", 4, 3)
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        lbcl(z, labels, impl="triton")


def test_missing_triton_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "triton", None)
    monkeypatch.delitem(sys.modules, "clmlf.losses.fused.triton_kernels", raising=False)
    monkeypatch.delattr(fused, "triton_kernels", raising=False)
    z, labels = inputs("lbcl/supcon", 4, 3)
    with pytest.raises(ImportError, match="needs the `triton` package"):
        lbcl(z, labels, impl="triton")


@pytest.mark.parametrize("loss", ["lbcl/supcon", "dbcl/clmlf"])
def test_triton_never_builds_an_n_by_n_tensor(loss, monkeypatch):
    from test_loss_impls import _LargestTensor

    from clmlf.losses.fused import triton_backend

    monkeypatch.setattr(triton_backend, "MIN_STRIP_ROWS", 16)
    monkeypatch.setattr(triton_backend, "STRIP_BYTES", 1)  # backward strips of 16 rows
    n = 300
    z, second = inputs(loss, n, 8)
    with _LargestTensor() as spy:
        run(loss, "triton", z, second, torch.tensor(0.1, requires_grad=True, dtype=torch.float64))
    # the interpreter hands kernels their arguments as bytes: a 16-row fp64 strip is 16·n·8 bytes < N² = 90,000
    assert 0 < spy.largest <= 16 * n * 8


def test_interpreter_that_cannot_run_loops_is_a_clear_error(monkeypatch):
    from clmlf.losses.fused import triton_kernels

    monkeypatch.setattr(triton_kernels, "interpreter_runs_loops", lambda: False)
    z, labels = inputs("lbcl/supcon", 4, 3)
    with pytest.raises(RuntimeError, match="Install triton >= 3.7 or numpy < 2.4"):
        lbcl(z, labels, impl="triton")
