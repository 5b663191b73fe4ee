"""Public entry points :func:`lbcl` and :func:`dbcl`: input validation and dispatch to an implementation.

Implementations (all give the same numbers, see tests/losses):

* ``reference`` — direct N×N math (:mod:`clmlf.losses.functional`), the definition;
* ``chunked``   — fused tiles in torch, O(N·d + tile·N) memory (:mod:`clmlf.losses.fused.chunked`);
* ``triton``    — fused Triton kernels, O(N·d) memory (CUDA, or CPU under ``TRITON_INTERPRET=1``);
* ``pml``       — pytorch-metric-learning (``supcon`` / ``ntxent`` only);
* ``auto``      — ``triton`` for CUDA tensors when Triton is installed, else ``chunked``; inside a graph that
  ``torch.compile`` traces, ``reference`` (plain torch ops that the compiler fuses, and no host synchronisation:
  the right choice for a training batch of a few hundred rows; pick ``chunked`` or ``triton`` explicitly for
  batches whose N×N logits would not fit).
"""

from __future__ import annotations

import importlib.util
import math
from typing import Callable, Literal, get_args

import torch
import torch.distributed as dist
from torch import Tensor

from clmlf.losses import functional, pml
from clmlf.losses._common import Temperature
from clmlf.losses.distributed import CrossRank, RowGroup
from clmlf.losses.fused import chunked, variants
from clmlf.losses.fused.row_lse import Kernels

Impl = Literal["auto", "reference", "chunked", "triton", "pml"]
LBCLVariant = Literal["supcon", "clmlf"]
DBCLVariant = Literal["ntxent", "clmlf"]
"""The one place that lists the implementations and variants (the loss specs and modules use these aliases)."""
IMPLS: tuple[str, ...] = get_args(Impl)
LBCL_VARIANTS: tuple[str, ...] = get_args(LBCLVariant)
DBCL_VARIANTS: tuple[str, ...] = get_args(DBCLVariant)

_REFERENCE: dict[str, Callable[..., Tensor]] = {
    "lbcl/supcon": functional.supcon,
    "lbcl/clmlf": functional.lbcl_clmlf,
    "dbcl/ntxent": functional.ntxent,
    "dbcl/clmlf": functional.dbcl_clmlf,
}
_FUSED: dict[str, Callable[..., Tensor]] = {
    "lbcl/supcon": variants.supcon,
    "lbcl/clmlf": variants.lbcl_clmlf,
    "dbcl/ntxent": variants.ntxent,
    "dbcl/clmlf": variants.dbcl_clmlf,
}


def lbcl(
    z: Tensor,
    labels: Tensor,
    temperature: Temperature = 0.07,
    variant: LBCLVariant = "supcon",
    impl: Impl = "auto",
    cross_rank: CrossRank = False,
) -> Tensor:
    """Label-based contrastive loss (docs/method.md §2, LBCL) of embeddings z (N, d) with class labels (N,) -> 0-d.

    ``variant``: ``"supcon"`` (SupCon L_out on normalised z, = PML ``SupConLoss``) or ``"clmlf"`` (the CLMLF
    reference code: raw dot products, τ after the softmax). ``temperature``: float or learnable 0-d tensor.
    ``cross_rank``: False, True (default process group) or a ProcessGroup — negatives from every rank's rows,
    see :mod:`clmlf.losses.distributed` for the gradient convention under DDP.
    Half inputs are accumulated in float32 (the loss is float32, gradients come back in the input dtype).
    """
    check_options(variant, LBCL_VARIANTS, impl, temperature, cross_rank)
    _check_embeddings("z", z)
    _check_labels(labels, z)
    return _dispatch(f"lbcl/{variant}", _resolve(impl, z), z, labels, temperature, cross_rank)


def dbcl(
    z: Tensor,
    z_aug: Tensor,
    temperature: Temperature = 0.07,
    variant: DBCLVariant = "ntxent",
    impl: Impl = "auto",
    cross_rank: CrossRank = False,
) -> Tensor:
    """Data-based contrastive loss (docs/method.md §2, DBCL) of two views z, z_aug (N, d) of the same samples -> 0-d.

    ``variant``: ``"ntxent"`` (SimCLR NT-Xent, both directions, = PML ``SelfSupervisedLoss(NTXentLoss)``) or
    ``"clmlf"`` (the CLMLF reference code: CrossEntropy(z z_augᵀ/τ, arange(N)), one direction, raw).
    Other arguments as in :func:`lbcl`.
    """
    check_options(variant, DBCL_VARIANTS, impl, temperature, cross_rank)
    _check_embeddings("z", z)
    _check_embeddings("z_aug", z_aug)
    if z_aug.shape != z.shape or z_aug.dtype != z.dtype or z_aug.device != z.device:
        raise ValueError(
            f"z and z_aug must match in shape, dtype and device; got {tuple(z.shape)} {z.dtype} {z.device} "
            f"and {tuple(z_aug.shape)} {z_aug.dtype} {z_aug.device}"
        )
    return _dispatch(f"dbcl/{variant}", _resolve(impl, z), z, z_aug, temperature, cross_rank)


def _dispatch(loss: str, impl: str, z: Tensor, second: Tensor, temperature: Temperature, cross_rank: CrossRank) -> Tensor:
    """Run ``loss`` ("lbcl/supcon", ...) with ``impl``; autocast is off inside (logits accumulate in fp32)."""
    family, variant = loss.split("/")
    with torch.autocast(device_type=z.device.type, enabled=False):
        if impl == "pml":
            return getattr(pml, family)(z, second, temperature, variant)
        rows = RowGroup.create(z.shape[0], cross_rank, z.device)
        if impl == "reference":
            return _REFERENCE[loss](rows.gather(z), rows.gather(second), rows.own_share(temperature))
        return _FUSED[loss](z, second, temperature, rows, _kernels(impl, z))


def _choices(values: tuple[str, ...]) -> str:
    return ", ".join(repr(v) for v in values)


def check_options(variant: str, variants: tuple[str, ...], impl: str, temperature: Temperature, cross_rank: CrossRank) -> None:
    """Raise ValueError/TypeError naming the valid choices for a bad variant, impl, temperature or cross_rank."""
    if variant not in variants:
        raise ValueError(f"unknown variant {variant!r}; valid variants: {_choices(variants)}")
    if impl not in IMPLS:
        raise ValueError(f"unknown impl {impl!r}; valid impls: {_choices(IMPLS)}")
    if isinstance(temperature, Tensor):
        if temperature.dim() != 0:
            raise ValueError(f"temperature must be a float or a 0-d tensor; got shape {tuple(temperature.shape)}")
        value = float(temperature.detach())
    elif isinstance(temperature, (int, float)) and not isinstance(temperature, bool):
        value = float(temperature)
    else:
        raise TypeError(f"temperature must be a float or a 0-d tensor; got {type(temperature).__name__}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"temperature must be a finite number > 0; got {value}")
    if not (isinstance(cross_rank, bool) or (dist.is_available() and isinstance(cross_rank, dist.ProcessGroup))):
        raise TypeError(f"cross_rank must be False, True or a torch.distributed ProcessGroup; got {cross_rank!r}")
    if impl == "pml" and cross_rank is not False:
        raise ValueError("impl='pml' does not support cross_rank; set cross_rank false or use impl='reference', 'chunked' or 'triton'")


def _check_embeddings(name: str, z: Tensor) -> None:
    if not isinstance(z, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(z).__name__}")
    if z.dim() != 2:
        raise ValueError(f"{name} must be 2-D (N, d); got shape {tuple(z.shape)}")
    if not z.is_floating_point():
        raise TypeError(f"{name} must be floating point; got {z.dtype}")
    if z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"{name} is empty; got shape {tuple(z.shape)}")


def _check_labels(labels: Tensor, z: Tensor) -> None:
    if not isinstance(labels, Tensor):
        raise TypeError(f"labels must be a torch.Tensor; got {type(labels).__name__}")
    if labels.dim() != 1 or labels.shape[0] != z.shape[0]:
        raise ValueError(f"labels must have shape (N,) = ({z.shape[0]},) to match z {tuple(z.shape)}; got {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex():
        raise TypeError(f"labels must be integer class ids; got {labels.dtype}")
    if labels.device != z.device:
        raise ValueError(f"labels are on {labels.device} but z is on {z.device}")


def _resolve(impl: str, z: Tensor) -> str:
    if impl != "auto":
        return impl
    if torch.compiler.is_compiling():
        return "reference"
    return "triton" if z.is_cuda and importlib.util.find_spec("triton") is not None else "chunked"


def _kernels(impl: str, z: Tensor) -> Kernels:
    if impl == "chunked":
        return chunked.KERNELS
    from clmlf.losses.fused import triton_backend

    return triton_backend.kernels(z.device)
