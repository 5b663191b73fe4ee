"""``impl="triton"`` on CPU in Triton's interpreter: TRITON_INTERPRET=1 is set here, at collection, before
anything imports the kernels (they are imported lazily on the first triton call). Sizes stay small."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from _loss_cases import LOSSES, inputs, run  # noqa: E402

from clmlf.losses import fused, lbcl  # noqa: E402

pytest.importorskip("triton")
_built = sys.modules.get("clmlf.losses.fused.triton_kernels")
if os.environ["TRITON_INTERPRET"] != "1" or getattr(_built, "INTERPRETED", True) is False:
    pytest.skip("Triton kernels were already built without the interpreter", allow_module_level=True)


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
def test_triton_never_builds_an_n_by_n_tensor(loss):
    from test_loss_impls import _LargestTensor

    n = 300
    z, second = inputs(loss, n, 8)
    with _LargestTensor() as spy:
        run(loss, "triton", z, second, torch.tensor(0.1, requires_grad=True, dtype=torch.float64))
    assert 0 < spy.largest <= 64 * n  # at most a 64-row block (interpreter bookkeeping); N×N would be 90,000
