"""Every fused implementation equals ``reference`` in value and gradient (float64, ≤1e-6 relative), plus the
edge cases of docs/method.md §2 for every implementation. Triton runs in test_loss_triton.py."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from _loss_cases import CHUNKED_GENERAL, LOSSES, inputs, run

from clmlf.losses import dbcl, lbcl
from clmlf.losses.fused import chunked
from clmlf.losses.fused.row_lse import Kernels

KERNELS = {"chunked": None, "chunked-general": CHUNKED_GENERAL}


@pytest.fixture(params=[16, 1024], ids=["tile16", "tile1024"])
def tile(request, monkeypatch):
    """Small tiles exercise multi-tile paths with a ragged last tile; the default covers a single tile."""
    monkeypatch.setattr(chunked, "MAX_TILE_ROWS", request.param)
    return request.param


def assert_same(actual, expected, rtol=1e-6, atol=1e-12):
    (value, grads), (ref_value, ref_grads) = actual, expected
    torch.testing.assert_close(value, ref_value, rtol=rtol, atol=atol)
    assert len(grads) == len(ref_grads)
    for grad, ref in zip(grads, ref_grads):
        assert grad.dtype == ref.dtype
        torch.testing.assert_close(grad, ref, rtol=rtol, atol=atol * max(1.0, ref.abs().max().item()))


def compare(loss, kernels, z, second, temperature):
    """Fused vs reference on the same leaves; a learnable τ is cloned so each gets its own gradient."""
    def tau():
        return temperature.detach().clone().requires_grad_() if isinstance(temperature, torch.Tensor) else temperature

    expected = run(loss, "reference", z, second, tau())
    actual = run(loss, "chunked", z, second, tau(), kernels=KERNELS[kernels])
    assert_same(actual, expected)
    return expected


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("n,d", [(2, 3), (3, 3), (17, 16), (33, 5), (64, 16), (100, 24)])
@pytest.mark.parametrize("loss", LOSSES)
def test_fused_equals_reference(loss, n, d, kernels, tile):
    z, second = inputs(loss, n, d, "equal" if n <= 3 else "random", seed=n * d)
    value, grads = compare(loss, kernels, z, second, torch.tensor(0.1, dtype=torch.float64, requires_grad=True))
    if not (loss == "lbcl/supcon" and n == 2):  # two equal labels: the positive is the only candidate, L = 0
        assert value.abs() > 1e-3 and all(g.abs().max() > 0 for g in grads)


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("layout", ["distinct", "equal", "singletons", "sparse_ids"])
@pytest.mark.parametrize("loss", ["lbcl/supcon", "lbcl/clmlf"])
def test_fused_equals_reference_over_label_layouts(loss, layout, kernels, tile):
    z, labels = inputs(loss, 37, 8, layout, seed=3)
    compare(loss, kernels, z, labels, torch.tensor(0.07, dtype=torch.float64, requires_grad=True))


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("loss", LOSSES)
def test_tiny_temperature(loss, kernels, tile):
    z, second = inputs(loss, 29, 8, "random", seed=5)
    value, _ = compare(loss, kernels, z, second, 1e-3)
    assert torch.isfinite(value) and value > 1


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("loss", ["lbcl/clmlf", "dbcl/clmlf"])
def test_large_norms(loss, kernels, tile):
    z, second = inputs(loss, 29, 8, "random", scale=1e3, seed=6)
    value, _ = compare(loss, kernels, z, second, 0.07)
    assert torch.isfinite(value) and value > 0
    z32 = z.detach().float().requires_grad_()
    second32 = second.detach().float().requires_grad_() if second.is_floating_point() else second
    value32, grads32 = run(loss, "chunked", z32, second32, 0.07, kernels=KERNELS[kernels])
    assert torch.isfinite(value32) and all(torch.isfinite(g).all() for g in grads32)


@pytest.mark.parametrize("impl", ["reference", "chunked", "pml"])
def test_no_positive_gives_attached_zero(impl):
    z, labels = inputs("lbcl/supcon", 6, 4, "distinct")
    tau = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    value = lbcl(z, labels, tau, impl=impl)
    assert value == 0 and value.requires_grad
    value.backward()
    assert z.grad is not None and torch.equal(z.grad, torch.zeros_like(z))
    if impl != "pml":  # PML's zero is not attached to its temperature
        assert tau.grad == 0
    labels[1] = labels[0]  # one positive pair: now a real loss and gradient
    value = lbcl(z, labels, tau, impl=impl)
    assert value > 0 and torch.autograd.grad(value, z)[0].abs().max() > 0


@pytest.mark.parametrize("impl", ["reference", "chunked"])
@pytest.mark.parametrize("loss", LOSSES)
def test_single_sample(loss, impl):
    """N = 1: a single candidate per anchor; every variant is 0 (to rounding) with zero gradient, never NaN."""
    z, second = inputs(loss, 1, 4)
    value, grads = run(loss, impl, z, second, torch.tensor(0.1, dtype=torch.float64, requires_grad=True))
    assert value.requires_grad and value.abs() < 1e-12
    assert all(g.abs().max() < 1e-12 for g in grads)
    value3, grads3 = run(loss, impl, *inputs(loss, 3, 4, "equal"), 0.1)  # N = 3 already gives a real loss
    assert value3 > 1e-3 and all(g.abs().max() > 1e-3 for g in grads3)


@pytest.mark.parametrize("impl", ["reference", "chunked"])
@pytest.mark.parametrize("loss", LOSSES)
def test_bfloat16_inputs(loss, impl):
    """bf16 in: float32 loss, bf16 gradients, both within bf16 rounding of float64 on the same (rounded) values."""
    z, second = inputs(loss, 40, 16, "random", dtype=torch.bfloat16, seed=7)
    value, grads = run(loss, impl, z, second, 0.1)
    assert value.dtype == torch.float32 and all(g.dtype == torch.bfloat16 for g in grads)
    z64 = z.detach().double().requires_grad_()
    second64 = second.detach().double().requires_grad_() if second.is_floating_point() else second
    ref_value, ref_grads = run(loss, "reference", z64, second64, 0.1)
    torch.testing.assert_close(value.double(), ref_value, rtol=1e-5, atol=1e-6)
    for grad, ref in zip(grads, ref_grads):
        torch.testing.assert_close(grad.double(), ref, rtol=2e-2, atol=1e-2 * ref.abs().max().item())


def test_float16_inputs_chunked_matches_reference():
    z, labels = inputs("lbcl/supcon", 30, 8, dtype=torch.float16, seed=8)
    torch.testing.assert_close(lbcl(z, labels, impl="chunked"), lbcl(z, labels, impl="reference"), rtol=1e-5, atol=1e-6)


def test_auto_uses_chunked_on_cpu(monkeypatch):
    used = []
    spy = Kernels(row_lse=lambda *args: used.append("row_lse") or chunked.row_lse(*args), row_grad=chunked.row_grad)
    monkeypatch.setattr(chunked, "KERNELS", spy)
    z, z_aug = inputs("dbcl/clmlf", 5, 3)
    dbcl(z, z_aug, variant="clmlf")
    assert used == ["row_lse"]


@pytest.mark.parametrize("impl", ["reference", "chunked"])
@pytest.mark.parametrize("loss", LOSSES)
def test_autocast_does_not_lower_precision(loss, impl):
    """Under bf16 autocast the losses still accumulate float32 inputs in float32."""
    z, second = inputs(loss, 40, 16, dtype=torch.float32, seed=9)
    value, grads = run(loss, impl, z, second, 0.1)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # forward only: backward runs outside autocast
        auto_value = (lbcl if loss.startswith("lbcl") else dbcl)(z, second, 0.1, loss.split("/")[1], impl)
    auto_grads = torch.autograd.grad(auto_value, [t for t in (z, second) if t.requires_grad])
    torch.testing.assert_close(auto_value, value, rtol=1e-6, atol=1e-7)
    for auto_grad, grad in zip(auto_grads, grads):
        torch.testing.assert_close(auto_grad, grad, rtol=1e-5, atol=1e-7)


class _LargestTensor(TorchDispatchMode):
    """Records the largest numel among the outputs of every op run while active (forward and backward)."""

    largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        sizes = [t.numel() for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        self.largest = max([self.largest, *sizes])
        return out


@pytest.mark.parametrize("loss", LOSSES)
def test_chunked_never_builds_an_n_by_n_tensor(loss, monkeypatch):
    monkeypatch.setattr(chunked, "MAX_TILE_ROWS", 16)
    monkeypatch.setattr(chunked, "TILE_BYTES", 1)  # always the minimum tile (16 rows)
    n, d = 128, 8
    rows = 2 * n if loss == "dbcl/ntxent" else n
    for impl, kernels in [("chunked", None), ("chunked", CHUNKED_GENERAL), ("reference", None)]:
        z, second = inputs(loss, n, d)
        with _LargestTensor() as spy:
            run(loss, impl, z, second, torch.tensor(0.1, requires_grad=True, dtype=torch.float64), kernels=kernels)
        if impl == "reference":
            assert spy.largest >= rows * rows  # the spy sees N×N where it exists
        else:
            assert spy.largest <= 16 * rows, f"largest tensor has {spy.largest} elements; a tile is 16×{rows}"
