"""Cross-rank negatives: two gloo processes on CPU (unequal batch sizes) vs one process on the concatenated batch.

Every rank must return the global loss, the exact rows of the single-process gradient for its own embeddings,
and a temperature-gradient share; the shares sum to the single-process temperature gradient."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from _loss_cases import LOSSES, inputs, run, triton_refusal

from clmlf.losses import CrossEntropyLoss, dbcl, lbcl
from clmlf.losses.distributed import scale_grad_for_ddp

SIZES = (5, 8)
IMPLS = ("reference", "chunked", "triton")


def own_rows(rank: int) -> slice:
    start = sum(SIZES[:rank])
    return slice(start, start + SIZES[rank])


def classification_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """logits (N, 3) float64 and labels (N,) of the global batch."""
    generator = torch.Generator().manual_seed(5)
    return torch.randn(sum(SIZES), 3, dtype=torch.float64, generator=generator), torch.randint(3, (sum(SIZES),), generator=generator)


def _worker(rank: int, port: int, out: str) -> None:
    os.environ["TRITON_INTERPRET"] = "1"  # before the lazy triton import
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=len(SIZES))
    pair_group = dist.new_group(ranks=list(range(len(SIZES))))
    results = {"triton refusal": triton_refusal()}
    for loss in LOSSES:
        family, variant = loss.split("/")
        z_full, second_full = inputs(loss, sum(SIZES), 6, seed=11)
        for impl in [impl for impl in IMPLS if impl != "triton" or results["triton refusal"] is None]:
            z = z_full.detach()[own_rows(rank)].clone().requires_grad_()
            second = second_full.detach()[own_rows(rank)].clone().requires_grad_(second_full.is_floating_point())
            tau = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
            cross_rank = pair_group if impl == "chunked" else True
            value = (lbcl if family == "lbcl" else dbcl)(z, second, tau, variant, impl, cross_rank)
            wrt = [t for t in (z, second, tau) if t.requires_grad]
            results[loss, impl] = value.detach(), torch.autograd.grad(value, wrt, retain_graph=True)
            scaled = torch.autograd.grad(scale_grad_for_ddp(value, True), z)[0]
            results[loss, impl, "scaled"] = scaled, torch.equal(scale_grad_for_ddp(value, True), value)
    logits_full, labels_full = classification_inputs()
    logits = logits_full[own_rows(rank)].clone().requires_grad_()
    value = CrossEntropyLoss(label_smoothing=0.1, cross_rank=True)(logits, labels_full[own_rows(rank)])
    results["cross_entropy"] = value.detach(), torch.autograd.grad(value, logits)[0]
    torch.save(results, os.path.join(out, f"rank{rank}.pt"))
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("cross_rank")
    mp.spawn(_worker, args=(free_port(), str(out)), nprocs=len(SIZES), join=True)
    return [torch.load(out / f"rank{rank}.pt", weights_only=False) for rank in range(len(SIZES))]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("loss", LOSSES)
def test_cross_rank_equals_single_process(rank_results, loss, impl):
    if impl == "triton" and rank_results[0]["triton refusal"]:
        pytest.skip(rank_results[0]["triton refusal"])
    z, second = inputs(loss, sum(SIZES), 6, seed=11)
    tau = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    value, grads = run(loss, "reference", z, second, tau)
    *row_grads, tau_grad = grads
    tau_shares = []
    for rank, results in enumerate(rank_results):
        rank_value, (*rank_row_grads, rank_tau_grad) = results[loss, impl]
        torch.testing.assert_close(rank_value, value.detach(), rtol=1e-10, atol=0)
        for rank_grad, full in zip(rank_row_grads, row_grads):
            torch.testing.assert_close(rank_grad, full[own_rows(rank)], rtol=1e-9, atol=1e-13)
        tau_shares.append(rank_tau_grad)
        scaled, same_value = results[loss, impl, "scaled"]
        assert same_value
        torch.testing.assert_close(scaled, len(SIZES) * rank_row_grads[0])
    torch.testing.assert_close(sum(tau_shares), tau_grad, rtol=1e-9, atol=1e-12)
    assert value.abs() > 1e-3 and tau_grad.abs() > 1e-3 and all(share.abs() > 0 for share in tau_shares)


def test_cross_entropy_global_mean_with_uneven_ranks(rank_results):
    """Every rank returns the mean over all 13 rows, and its rows' gradients are those of that mean."""
    logits, labels = classification_inputs()
    logits.requires_grad_()
    value = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
    (grad,) = torch.autograd.grad(value, logits)
    for rank, results in enumerate(rank_results):
        rank_value, rank_grad = results["cross_entropy"]
        torch.testing.assert_close(rank_value, value.detach(), rtol=1e-12, atol=0)
        torch.testing.assert_close(rank_grad, grad[own_rows(rank)], rtol=1e-12, atol=1e-15)


def test_cross_rank_needs_an_initialised_process_group():
    z, labels = inputs("lbcl/supcon", 4, 3)
    with pytest.raises(RuntimeError, match="init_process_group"):
        lbcl(z, labels, cross_rank=True)
    with pytest.raises(ValueError, match="does not support cross_rank"):
        lbcl(z, labels, impl="pml", cross_rank=True)
