"""Contrastive losses of CLMLF (REFERENCE.md §2): LBCL and DBCL, each in the paper's ``clmlf`` form and the
standard form (``supcon`` / ``ntxent``), with reference, fused (chunked / Triton) and PML implementations."""

from clmlf.losses.api import dbcl, lbcl
from clmlf.losses.modules import CLMLFLoss, CrossEntropyLoss, DBCLLoss, LBCLLoss, LossOutput

__all__ = ["CLMLFLoss", "CrossEntropyLoss", "DBCLLoss", "LBCLLoss", "LossOutput", "dbcl", "lbcl"]
