"""Losses of CLMLF (docs/method.md §2): LBCL and DBCL, each in the paper's ``clmlf`` form and the standard form
(``supcon`` / ``ntxent``), with reference, fused (chunked / Triton) and PML implementations; the loss-term contract
(:mod:`clmlf.losses.terms`, docs/loss_terms.md) and the weighted objective built from terms (:class:`Criterion`)."""

from clmlf.losses.api import dbcl, lbcl
from clmlf.losses.criterion import Criterion, Term
from clmlf.losses.modules import CLMLFLoss, CrossEntropyLoss, DBCLLoss, LBCLLoss
from clmlf.losses.terms import LossOutput, LossTermSpec, TrainingStep

__all__ = ["CLMLFLoss", "Criterion", "CrossEntropyLoss", "DBCLLoss", "LBCLLoss", "LossOutput", "LossTermSpec", "Term",
           "TrainingStep", "dbcl", "lbcl"]
