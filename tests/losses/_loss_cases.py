"""Shared inputs and call helpers for the loss tests (imported by the test modules of this folder)."""

from __future__ import annotations

import torch
from torch import Tensor

from clmlf.losses import dbcl, lbcl
from clmlf.losses.api import _FUSED
from clmlf.losses.distributed import RowGroup
from clmlf.losses.fused import chunked
from clmlf.losses.fused.row_lse import Kernels

LOSSES = ("lbcl/supcon", "lbcl/clmlf", "dbcl/ntxent", "dbcl/clmlf")
CHUNKED_GENERAL = Kernels(row_lse=chunked.row_lse, row_grad=chunked.row_grad)
"""The chunked kernels without the symmetric fast path: the code path every rank runs with cross_rank."""


def labels_for(layout: str, n: int, generator: torch.Generator) -> Tensor:
    """(n,) integer labels in a named layout."""
    if layout == "random":
        return torch.randint(0, 3, (n,), generator=generator)
    if layout == "distinct":
        return torch.arange(n)
    if layout == "equal":
        return torch.full((n,), 7)
    if layout == "singletons":  # half in one class, the rest each alone (rows without positives)
        return torch.cat([torch.zeros(n // 2, dtype=torch.long), torch.arange(1, n - n // 2 + 1)])
    if layout == "sparse_ids":  # arbitrary, negative and large ids
        return torch.randint(0, 4, (n,), generator=generator) * 1000 - 5
    raise ValueError(layout)


def inputs(loss: str, n: int, d: int, layout: str = "random", dtype=torch.float64, scale: float = 1.0, seed: int = 0):
    """(z, second) leaf inputs for ``loss``: second is labels for LBCL, z_aug for DBCL."""
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(n, d, generator=g, dtype=torch.float64) * scale).to(dtype).requires_grad_()
    if loss.startswith("lbcl"):
        return z, labels_for(layout, n, g)
    z_aug = (torch.randn(n, d, generator=g, dtype=torch.float64) * scale).to(dtype).requires_grad_()
    return z, z_aug


def run(loss: str, impl: str, z: Tensor, second: Tensor, temperature=0.07, kernels: Kernels | None = None):
    """Loss value and gradients: (loss, [∂z, ∂z_aug (DBCL only), ∂τ (tensor τ only)])."""
    family, variant = loss.split("/")
    if kernels is not None:
        value = _FUSED[loss](z, second, temperature, RowGroup((z.shape[0],)), kernels)
    else:
        value = (lbcl if family == "lbcl" else dbcl)(z, second, temperature, variant=variant, impl=impl)
    wrt = [t for t in (z, second, temperature) if isinstance(t, Tensor) and t.requires_grad]
    return value, list(torch.autograd.grad(value, wrt))


def triton_refusal() -> str | None:
    """Why ``impl="triton"`` cannot run on the CPU in this process (the library's error, naming versions and the fix,
    e.g. an interpreter that cannot run these kernels), or None when it can."""
    from clmlf.losses.fused import triton_backend

    try:
        triton_backend.kernels(torch.device("cpu"))
    except RuntimeError as error:
        return str(error)
    return None
