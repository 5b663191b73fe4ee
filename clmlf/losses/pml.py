"""``impl="pml"``: delegate to pytorch-metric-learning (docs/method.md §2 names the numbers it returns).

Only the standard variants exist there: ``supcon`` -> ``SupConLoss(temperature=τ)`` and ``ntxent`` ->
``SelfSupervisedLoss(NTXentLoss(temperature=τ), symmetric=True)``. Note PML returns 0 for a batch without
negatives (all labels equal), where the ``supcon`` definition (and the other implementations) give log-ratios.
"""

from __future__ import annotations

from torch import Tensor

from clmlf.losses._common import Temperature


def _unsupported(variant: str, supported: str) -> ValueError:
    return ValueError(
        f"impl='pml' supports only variant={supported!r} (pytorch-metric-learning has no {variant!r} variant); "
        "use impl='reference', 'chunked' or 'triton'"
    )


def lbcl(z: Tensor, labels: Tensor, temperature: Temperature, variant: str) -> Tensor:
    """z: (N, d), labels: (N,) -> PML ``SupConLoss`` (0-d)."""
    if variant != "supcon":
        raise _unsupported(variant, "supcon")
    from pytorch_metric_learning.losses import SupConLoss

    return SupConLoss(temperature=temperature)(z, labels)


def dbcl(z: Tensor, z_aug: Tensor, temperature: Temperature, variant: str) -> Tensor:
    """z, z_aug: (N, d) -> PML symmetric ``NTXentLoss`` over both views (0-d)."""
    if variant != "ntxent":
        raise _unsupported(variant, "ntxent")
    from pytorch_metric_learning.losses import NTXentLoss, SelfSupervisedLoss

    return SelfSupervisedLoss(NTXentLoss(temperature=temperature), symmetric=True)(z, z_aug)
