"""``impl="triton"`` compiled for a real GPU (skipped without CUDA; run in a process without TRITON_INTERPRET).

fp32 operands use 3xTF32 dots (about fp32 accuracy), so values and gradients match the fp64 reference to fp32
precision — relative to the logit scale: the ``clmlf`` variants take raw rows, whose logits here reach |z|²/τ ≈ 8e3,
so fp32 rounding of the LSE (~5e-4 absolute) shows in the gradient at ~1e-4 of its largest entry; bf16 operands use
tensor-core dots with fp32 accumulation, so they match the reference evaluated on the same bf16-rounded inputs
within bf16 tolerance. Sizes cross the 64-row blocks and the d-chunks."""

from __future__ import annotations

import os

import pytest
import torch
from _loss_cases import LOSSES, inputs, run

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
    pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") == "1", reason="Triton runs in its interpreter here"),
]


def _cuda(tensors, dtype):
    z, second = tensors
    move = lambda t: t.detach().to("cuda", dtype if t.is_floating_point() else t.dtype).requires_grad_(t.is_floating_point())  # noqa: E731
    return move(z), move(second)


@pytest.mark.parametrize("n,d", [(70, 20), (300, 128), (1000, 768)])
@pytest.mark.parametrize("loss", LOSSES)
def test_triton_cuda_float32_matches_float64_reference(loss, n, d):
    z64, second64 = inputs(loss, n, d, seed=n)
    ref_value, ref_grads = run(loss, "reference", z64, second64, 0.1)
    value, grads = run(loss, "triton", *_cuda((z64, second64), torch.float32), 0.1)
    torch.testing.assert_close(value.double().cpu(), ref_value, rtol=1e-5, atol=1e-6)
    scale = 3e-4 if loss.endswith("clmlf") else 1e-5
    for grad, ref in zip(grads, ref_grads):
        torch.testing.assert_close(grad.double().cpu(), ref, rtol=1e-4, atol=scale * ref.abs().max().item())


@pytest.mark.parametrize("loss", LOSSES)
def test_triton_cuda_bfloat16_within_bf16_tolerance(loss):
    z, second = _cuda(inputs(loss, 1000, 768, seed=5), torch.bfloat16)
    value, grads = run(loss, "triton", z, second, 0.07)
    ref_value, ref_grads = run(loss, "reference", z, second, 0.07)
    torch.testing.assert_close(value, ref_value, rtol=2e-2, atol=2e-2)
    for grad, ref in zip(grads, ref_grads):
        assert grad.dtype == torch.bfloat16
        scale = ref.float().abs().max().item()
        torch.testing.assert_close(grad.float(), ref.float(), rtol=5e-2, atol=2e-2 * scale)


def test_triton_cuda_learnable_temperature_and_large_batch():
    z, labels = _cuda(inputs("lbcl/supcon", 20_000, 128, seed=1), torch.float32)
    tau = torch.tensor(0.07, device="cuda", requires_grad=True)
    value, (dz, dtau) = run("lbcl/supcon", "triton", z, labels, tau)
    ref_value, (ref_dz, ref_dtau) = run("lbcl/supcon", "chunked", z, labels, tau)
    torch.testing.assert_close(value, ref_value, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(dz, ref_dz, rtol=1e-4, atol=1e-4 * ref_dz.abs().max().item())
    torch.testing.assert_close(dtau, ref_dtau, rtol=1e-4, atol=1e-6)
