"""Thin ``nn.Module`` wrappers of the losses and the weighted CLMLF objective, registered as ``loss`` components.

L = L_sc + λ_lbcl·L_lbcl + λ_dbcl·L_dbcl  (paper Sec. 2.6; REFERENCE.md §2, λ = 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from clmlf.losses.api import DBCL_VARIANTS, LBCL_VARIANTS, check_options, dbcl, lbcl
from clmlf.losses.distributed import CrossRank, global_mean, scale_grad_for_ddp
from clmlf.spec import ComponentSpec

Impl = Literal["auto", "reference", "chunked", "triton", "pml"]


@dataclass
class LossOutput:
    """total: 0-d loss to back-propagate; terms: name -> detached 0-d value of each term, for logging."""

    total: Tensor
    terms: dict[str, Tensor]


class LBCLSpec(ComponentSpec):
    type: Literal["lbcl"] = "lbcl"
    temperature: float = Field(0.07, gt=0)
    variant: Literal["supcon", "clmlf"] = "supcon"
    impl: Impl = "auto"
    cross_rank: bool = False


class DBCLSpec(ComponentSpec):
    type: Literal["dbcl"] = "dbcl"
    temperature: float = Field(0.07, gt=0)
    variant: Literal["ntxent", "clmlf"] = "ntxent"
    impl: Impl = "auto"
    cross_rank: bool = False


class CrossEntropySpec(ComponentSpec):
    type: Literal["cross_entropy"] = "cross_entropy"
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    cross_rank: bool = False


class LBCLLoss(nn.Module):
    """Label-based contrastive loss: z (N, d), labels (N,) -> 0-d (:func:`clmlf.losses.lbcl`)."""

    def __init__(
        self, temperature: float = 0.07, variant: str = "supcon", impl: str = "auto", cross_rank: CrossRank = False
    ) -> None:
        super().__init__()
        check_options(variant, LBCL_VARIANTS, impl, temperature, cross_rank)
        self.temperature, self.variant, self.impl, self.cross_rank = temperature, variant, impl, cross_rank

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return lbcl(z, labels, self.temperature, self.variant, self.impl, self.cross_rank)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, variant={self.variant!r}, impl={self.impl!r}, cross_rank={self.cross_rank}"


class DBCLLoss(nn.Module):
    """Data-based contrastive loss: two views z, z_aug (N, d) -> 0-d (:func:`clmlf.losses.dbcl`)."""

    def __init__(
        self, temperature: float = 0.07, variant: str = "ntxent", impl: str = "auto", cross_rank: CrossRank = False
    ) -> None:
        super().__init__()
        check_options(variant, DBCL_VARIANTS, impl, temperature, cross_rank)
        self.temperature, self.variant, self.impl, self.cross_rank = temperature, variant, impl, cross_rank

    def forward(self, z: Tensor, z_aug: Tensor) -> Tensor:
        return dbcl(z, z_aug, self.temperature, self.variant, self.impl, self.cross_rank)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, variant={self.variant!r}, impl={self.impl!r}, cross_rank={self.cross_rank}"


class CrossEntropyLoss(nn.Module):
    """Sentiment classification loss L_sc: logits (B, C), labels (B,) -> 0-d mean cross-entropy.

    ``cross_rank``: the mean over every rank's rows (:func:`clmlf.losses.distributed.global_mean`), exact with
    uneven shards."""

    def __init__(self, label_smoothing: float = 0.0, cross_rank: CrossRank = False) -> None:
        super().__init__()
        self.label_smoothing, self.cross_rank = label_smoothing, cross_rank

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        if self.cross_rank is False:
            return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
        rows = F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing, reduction="none")
        return global_mean(rows, self.cross_rank)

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}, cross_rank={self.cross_rank}"


class CLMLFLoss(nn.Module):
    """L = L_sc + λ_lbcl·L_lbcl + λ_dbcl·L_dbcl; a term with λ = 0 is skipped.

    forward(logits (B, C), labels (B,), z (B, P) projection of the original view, z_aug (B, P) of the augmented
    view) -> LossOutput(total, terms={"sc", "lbcl", "dbcl"}). LBCL uses (z, labels), DBCL uses (z, z_aug).
    A term whose module has ``cross_rank`` set has its gradient scaled by the world size so that DDP's gradient
    average equals the full-batch gradient (values are unscaled; see :mod:`clmlf.losses.distributed`).
    """

    def __init__(
        self,
        classification: nn.Module | None = None,
        lbcl: LBCLLoss | None = None,
        dbcl: DBCLLoss | None = None,
        lambda_lbcl: float = 1.0,
        lambda_dbcl: float = 1.0,
    ) -> None:
        super().__init__()
        for name, part in (("classification", classification), ("lbcl", lbcl), ("dbcl", dbcl)):
            if part is not None and not callable(part):
                raise TypeError(f"{name} must be a loss module or None (the default), got {type(part).__name__}; "
                                "the weights of the terms are lambda_lbcl and lambda_dbcl")
        self.classification = classification if classification is not None else CrossEntropyLoss()
        self.lbcl = lbcl if lbcl is not None else LBCLLoss()
        self.dbcl = dbcl if dbcl is not None else DBCLLoss()
        self.lambda_lbcl, self.lambda_dbcl = lambda_lbcl, lambda_dbcl

    def forward(self, logits: Tensor, labels: Tensor, z: Tensor | None = None, z_aug: Tensor | None = None) -> LossOutput:
        terms = {"sc": self.classification(logits, labels)}
        total = scale_grad_for_ddp(terms["sc"], getattr(self.classification, "cross_rank", False))
        if self.lambda_lbcl:
            if z is None:
                raise ValueError("CLMLFLoss with lambda_lbcl != 0 needs z (the projection of the original view)")
            terms["lbcl"] = self.lbcl(z, labels)
            total = total + self.lambda_lbcl * scale_grad_for_ddp(terms["lbcl"], self.lbcl.cross_rank)
        if self.lambda_dbcl:
            if z is None or z_aug is None:
                raise ValueError("CLMLFLoss with lambda_dbcl != 0 needs z and z_aug (projections of both views)")
            terms["dbcl"] = self.dbcl(z, z_aug)
            total = total + self.lambda_dbcl * scale_grad_for_ddp(terms["dbcl"], self.dbcl.cross_rank)
        return LossOutput(total, {name: value.detach() for name, value in terms.items()})
