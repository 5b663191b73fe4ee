"""The reference implementation against pytorch-metric-learning and against literal per-pair transcriptions
of docs/method.md §2 (slow python loops, tiny N)."""

from __future__ import annotations

import math

import pytest
import torch
from _loss_cases import inputs, labels_for
from pytorch_metric_learning.losses import NTXentLoss, SelfSupervisedLoss, SupConLoss

from clmlf.losses import dbcl, functional, lbcl

TAU = 0.1


def literal_lbcl_clmlf(z, labels, tau):
    """-(1/τ)·(1/Σ|P(i)|)·Σ_i Σ_{p∈P(i)} log( exp(z_i·z_p) / Σ_k exp(z_i·z_k) ), pair by pair."""
    n, total, pairs = len(z), 0.0, 0
    for i in range(n):
        denominator = torch.stack([z[i] @ z[k] for k in range(n)]).logsumexp(0)
        for p in range(n):
            if labels[p] == labels[i]:
                total = total + (z[i] @ z[p] - denominator)
                pairs += 1
    return -total / tau / pairs


def literal_supcon(z, labels, tau):
    """Khosla et al. L_out: mean over anchors with a positive of -mean_p log(exp(s_ip)/Σ_{k≠i} exp(s_ik))."""
    z = z / z.norm(dim=1, keepdim=True)
    n, losses = len(z), []
    for i in range(n):
        positives = [p for p in range(n) if p != i and labels[p] == labels[i]]
        if not positives:
            continue
        denominator = torch.stack([z[i] @ z[k] / tau for k in range(n) if k != i]).logsumexp(0)
        losses.append(-sum(z[i] @ z[p] / tau - denominator for p in positives) / len(positives))
    return sum(losses) / len(losses)


def literal_dbcl_clmlf(z, z_aug, tau):
    """mean_i -log( exp(z_i·z'_i/τ) / Σ_j exp(z_i·z'_j/τ) )."""
    n = len(z)
    terms = [-(z[i] @ z_aug[i] / tau - torch.stack([z[i] @ z_aug[j] / tau for j in range(n)]).logsumexp(0)) for i in range(n)]
    return sum(terms) / n


def grads(value, *tensors):
    return torch.autograd.grad(value, tensors)


@pytest.mark.parametrize("layout", ["random", "singletons", "sparse_ids"])
@pytest.mark.parametrize("n", [2, 9, 40])
def test_supcon_equals_pml_supconloss(layout, n):
    z, labels = inputs("lbcl/supcon", n, 16, layout, seed=n)
    if not (labels[:, None] != labels[None, :]).any():
        pytest.skip("PML needs a negative pair")
    ours = functional.supcon(z, labels, TAU)
    theirs = SupConLoss(temperature=TAU)(z, labels)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grads(ours, z)[0], grads(theirs, z)[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 9, 40])
def test_ntxent_equals_pml_symmetric_ntxent(n):
    z, z_aug = inputs("dbcl/ntxent", n, 16, seed=n)
    ours = functional.ntxent(z, z_aug, TAU)
    theirs = SelfSupervisedLoss(NTXentLoss(temperature=TAU), symmetric=True)(z, z_aug)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    if n > 1:
        assert ours > 0
        for a, b in zip(grads(ours, z, z_aug), grads(theirs, z, z_aug)):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("layout", ["random", "singletons", "equal"])
def test_supcon_matches_literal_loop(layout):
    z, labels = inputs("lbcl/supcon", 7, 5, layout, seed=1)
    ours, literal = functional.supcon(z, labels, TAU), literal_supcon(z, labels, TAU)
    torch.testing.assert_close(ours, literal, rtol=1e-12, atol=0)
    torch.testing.assert_close(grads(ours, z)[0], grads(literal, z)[0], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("scale", [1.0, 1e3])
@pytest.mark.parametrize("layout", ["random", "distinct", "equal"])
def test_lbcl_clmlf_matches_literal_loop(layout, scale):
    z, labels = inputs("lbcl/clmlf", 7, 5, layout, scale=scale, seed=2)
    ours, literal = functional.lbcl_clmlf(z, labels, TAU), literal_lbcl_clmlf(z, labels, TAU)
    assert torch.isfinite(ours) and (ours > 0 or scale > 1)  # large norms: the self pair takes all the mass
    torch.testing.assert_close(ours, literal, rtol=1e-12, atol=0)
    torch.testing.assert_close(grads(ours, z)[0], grads(literal, z)[0], rtol=1e-9, atol=1e-12)


def test_lbcl_clmlf_closed_form():
    """L = (Σ_i n_{y_i}·LSE_i(S) − Σ_c ‖C_c‖²)/(τ·Σ_c n_c²) (docs/method.md §2)."""
    z, labels = inputs("lbcl/clmlf", 11, 4, seed=3)
    counts = torch.bincount(labels)
    sums = torch.zeros(len(counts), 4, dtype=z.dtype).index_add(0, labels, z)
    closed = ((counts[labels] * (z @ z.T).logsumexp(1)).sum() - sums.square().sum()) / (TAU * counts.square().sum().double())
    torch.testing.assert_close(functional.lbcl_clmlf(z, labels, TAU), closed, rtol=1e-12, atol=0)


@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_dbcl_clmlf_matches_literal_loop(scale):
    z, z_aug = inputs("dbcl/clmlf", 6, 5, scale=scale, seed=4)
    ours, literal = functional.dbcl_clmlf(z, z_aug, TAU), literal_dbcl_clmlf(z, z_aug, TAU)
    assert ours > 0
    torch.testing.assert_close(ours, literal, rtol=1e-12, atol=0)
    for a, b in zip(grads(ours, z, z_aug), grads(literal, z, z_aug)):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_supcon_without_negatives_differs_from_pml_by_design():
    """All labels equal: PML returns 0 (it needs a negative pair); the definition gives log-ratios > 0."""
    z, labels = inputs("lbcl/supcon", 6, 4, "equal")
    assert SupConLoss(temperature=TAU)(z, labels) == 0
    ours = lbcl(z, labels, TAU, impl="reference")
    torch.testing.assert_close(ours, literal_supcon(z, labels, TAU))
    assert ours > math.log(4)  # at least log(N-2): one positive out of N-1 candidates, on average


def test_pml_impl_delegates_and_refuses_clmlf_variants():
    z, labels = inputs("lbcl/supcon", 10, 8, seed=5)
    torch.testing.assert_close(lbcl(z, labels, TAU, impl="pml"), SupConLoss(temperature=TAU)(z, labels))
    z_aug = torch.randn_like(z)
    torch.testing.assert_close(dbcl(z, z_aug, TAU, impl="pml"), functional.ntxent(z, z_aug, TAU))
    with pytest.raises(ValueError, match="supports only variant='supcon'"):
        lbcl(z, labels, TAU, variant="clmlf", impl="pml")
    with pytest.raises(ValueError, match="supports only variant='ntxent'"):
        dbcl(z, z_aug, TAU, variant="clmlf", impl="pml")


def test_layouts_helper_is_sane():
    g = torch.Generator().manual_seed(0)
    assert labels_for("singletons", 6, g).tolist() == [0, 0, 0, 1, 2, 3]
