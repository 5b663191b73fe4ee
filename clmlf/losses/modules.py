"""``nn.Module`` forms of the losses, registered as ``loss`` components (loss terms, docs/loss_terms.md).

Each module is called on tensors (``LBCLLoss()(z, labels)``, ``DBCLLoss()(z, z_aug)``,
``CrossEntropyLoss()(logits, labels)``) or, as a term of a :class:`~clmlf.losses.criterion.Criterion`, on a
:class:`~clmlf.losses.terms.TrainingStep`. :class:`CLMLFLoss` is the paper's objective
L = L_sc + λ_lbcl·L_lbcl + λ_dbcl·L_dbcl (Sec. 2.6; docs/method.md §2, λ = 1) on tensors.
"""

from __future__ import annotations

from typing import Callable, ClassVar, Literal

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from clmlf.losses.api import DBCL_VARIANTS, LBCL_VARIANTS, DBCLVariant, Impl, LBCLVariant, check_options, dbcl, lbcl
from clmlf.losses.criterion import Criterion, Term
from clmlf.losses.distributed import CrossRank, global_mean
from clmlf.losses.terms import LossOutput, LossTermSpec, TrainingStep

__all__ = ["CLMLFLoss", "CrossEntropyLoss", "DBCLLoss", "LBCLLoss", "LossOutput"]


class CrossEntropySpec(LossTermSpec):
    """L_sc. ``cross_rank`` (under torchrun): the mean over every rank's rows."""

    type: Literal["cross_entropy"] = "cross_entropy"
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="label smoothing of the targets; 0: none")
    cross_rank: bool = Field(True, description="under torchrun: the mean over every rank's rows; false: over the "
                             "rank's own rows")


class ContrastiveSpec(LossTermSpec):
    """Fields of LBCL and DBCL. ``cross_rank`` (under torchrun): negatives from the whole global batch, every rank's
    rows, as one process would; false keeps each rank's negatives local (a per-rank loss, DDP-averaged)."""

    temperature: float = Field(0.07, gt=0, description="temperature τ dividing the similarities")
    impl: Impl = Field("auto", description="implementation, same numbers: auto (triton on CUDA when installed, else "
                       "chunked), reference, chunked, triton or pml (clmlf.losses.api)")
    cross_rank: bool = Field(True, description="under torchrun: negatives from every rank's rows, as one process "
                             "would; false: each rank's own rows")


class LBCLSpec(ContrastiveSpec):
    type: Literal["lbcl"] = "lbcl"
    variant: LBCLVariant = Field("supcon", description="supcon (SupCon on normalised z) or clmlf (the reference code: "
                                 "raw dot products, τ after the softmax)")
    uses = frozenset({"z"})


class DBCLSpec(ContrastiveSpec):
    type: Literal["dbcl"] = "dbcl"
    variant: DBCLVariant = Field("ntxent", description="ntxent (SimCLR NT-Xent, both directions) or clmlf (the "
                                 "reference code: raw dot products, one direction)")
    uses = frozenset({"z", "z_aug"})


class CrossEntropyLoss(nn.Module):
    """Sentiment classification loss L_sc: logits (B, C), labels (B,) -> 0-d mean cross-entropy.

    ``cross_rank``: the mean over every rank's rows (:func:`clmlf.losses.distributed.global_mean`), exact with
    uneven shards."""

    def __init__(self, label_smoothing: float = 0.0, cross_rank: CrossRank = False) -> None:
        super().__init__()
        self.label_smoothing, self.cross_rank = label_smoothing, cross_rank

    def forward(self, logits: Tensor | TrainingStep, labels: Tensor | None = None) -> Tensor:
        if isinstance(logits, TrainingStep):
            logits, labels = logits.logits, logits.labels
        if self.cross_rank is False:
            return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
        rows = F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing, reduction="none")
        return global_mean(rows, self.cross_rank)

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}, cross_rank={self.cross_rank}"


class ContrastiveLoss(nn.Module):
    """Base of LBCL and DBCL: ``loss(z (N, d), second) -> 0-d`` by :attr:`function`, where ``second`` is the labels
    (N,) for LBCL and the augmented view's z_aug (N, d) for DBCL; as a loss term it reads z and :attr:`second` from
    the :class:`TrainingStep`. ``variant`` None: the family's standard variant."""

    function: ClassVar[Callable[..., Tensor]]
    variants: ClassVar[tuple[str, ...]]
    second: ClassVar[str]

    def __init__(self, temperature: float = 0.07, variant: str | None = None, impl: str = "auto",
                 cross_rank: CrossRank = False) -> None:
        super().__init__()
        variant = self.variants[0] if variant is None else variant
        check_options(variant, self.variants, impl, temperature, cross_rank)
        self.temperature, self.variant, self.impl, self.cross_rank = temperature, variant, impl, cross_rank

    def forward(self, z: Tensor | TrainingStep, second: Tensor | None = None) -> Tensor:
        if isinstance(z, TrainingStep):
            z, second = z.require("z", type(self).__name__), z.require(self.second, type(self).__name__)
        return self.function(z, second, self.temperature, self.variant, self.impl, self.cross_rank)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, variant={self.variant!r}, impl={self.impl!r}, cross_rank={self.cross_rank}"


class LBCLLoss(ContrastiveLoss):
    """Label-based contrastive loss: z (N, d), labels (N,) -> 0-d (:func:`clmlf.losses.lbcl`)."""

    function = staticmethod(lbcl)
    variants = LBCL_VARIANTS
    second = "labels"


class DBCLLoss(ContrastiveLoss):
    """Data-based contrastive loss: two views z, z_aug (N, d) -> 0-d (:func:`clmlf.losses.dbcl`)."""

    function = staticmethod(dbcl)
    variants = DBCL_VARIANTS
    second = "z_aug"


class TensorArguments(nn.Module):
    """A loss called on tensors as a term: ``loss(*(step.<name> for name in arguments))``; ``cross_rank`` is the
    wrapped loss's (for the DDP gradient scaling)."""

    def __init__(self, loss: Callable[..., Tensor], arguments: tuple[str, ...], name: str) -> None:
        super().__init__()
        self.loss, self.arguments, self.name = loss, arguments, name

    @property
    def cross_rank(self) -> CrossRank:
        return getattr(self.loss, "cross_rank", False)

    def forward(self, step: TrainingStep) -> Tensor:
        return self.loss(*(step.require(name, self.name) for name in self.arguments))


class CLMLFLoss(Criterion):
    """L = L_sc + λ_lbcl·L_lbcl + λ_dbcl·L_dbcl on tensors; a term with λ = 0 is skipped.

    forward(logits (B, C), labels (B,), z (B, P) projection of the original view, z_aug (B, P) of the augmented
    view) -> LossOutput(total, terms={"sc", "lbcl", "dbcl"}). ``classification(logits, labels)``, ``lbcl(z, labels)``
    and ``dbcl(z, z_aug)`` are any losses on tensors (default: the built-in modules). Cross-rank terms follow the
    DDP gradient convention of :class:`~clmlf.losses.criterion.Criterion`.
    """

    def __init__(
        self,
        classification: nn.Module | None = None,
        lbcl: nn.Module | None = None,
        dbcl: nn.Module | None = None,
        lambda_lbcl: float = 1.0,
        lambda_dbcl: float = 1.0,
    ) -> None:
        for name, part in (("classification", classification), ("lbcl", lbcl), ("dbcl", dbcl)):
            if part is not None and not callable(part):
                raise TypeError(f"{name} must be a loss module or None (the default), got {type(part).__name__}; "
                                "the weights of the terms are lambda_lbcl and lambda_dbcl")
        super().__init__([
            Term("sc", TensorArguments(_or(classification, CrossEntropyLoss), ("logits", "labels"), "CLMLFLoss classification")),
            Term("lbcl", TensorArguments(_or(lbcl, LBCLLoss), ("z", "labels"), "CLMLFLoss lbcl"), lambda_lbcl, LBCLSpec.uses),
            Term("dbcl", TensorArguments(_or(dbcl, DBCLLoss), ("z", "z_aug"), "CLMLFLoss dbcl"), lambda_dbcl, DBCLSpec.uses),
        ])

    def forward(self, logits: Tensor, labels: Tensor, z: Tensor | None = None, z_aug: Tensor | None = None) -> LossOutput:
        return super().forward(TrainingStep(logits, labels, z, z_aug))


def _or(part: Callable[..., Tensor] | None, default: type[nn.Module]) -> Callable[..., Tensor]:
    return default() if part is None else part
