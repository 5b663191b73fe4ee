"""The training objective: a weighted sum of named loss terms (the ``losses`` list of a config).

L = Σ_k weight_k · term_k(step); L_sc + LBCL + DBCL at weight 1 is the paper's (Sec. 2.6; docs/method.md §2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from clmlf.errors import SpecError
from clmlf.losses.distributed import scale_grad_for_ddp
from clmlf.losses.terms import LossOutput, LossTermSpec, TrainingStep

LOGGED_AS = {"cross_entropy": "sc"}
"""Logged names that differ from the term's type (every other term is logged under its type)."""


@dataclass(frozen=True)
class Term:
    """One term of a :class:`Criterion`: ``module(step)`` logged as ``name`` (named parts as ``name/part``), weighted
    by ``weight`` (0: skipped); ``uses``: what it reads beyond logits and labels (``"z"``, ``"z_aug"``)."""

    name: str
    module: nn.Module
    weight: float = 1.0
    uses: frozenset[str] = frozenset()


def logged_names(types: Sequence[str], aliases: Mapping[str, str] = LOGGED_AS) -> list[str]:
    """``["cross_entropy", "lbcl", "lbcl"]`` -> ``["sc", "lbcl", "lbcl_2"]``: a repeated type gets its count."""
    seen: dict[str, int] = {}
    names = []
    for name in types:
        seen[name] = seen.get(name, 0) + 1
        base = aliases.get(name, name)
        names.append(base if seen[name] == 1 else f"{base}_{seen[name]}")
    return names


class Criterion(nn.Module):
    """``criterion(step: TrainingStep) -> LossOutput(total, terms)``: the weighted sum of the terms with a weight > 0.

    A term whose module has a truthy ``cross_rank`` has its gradient scaled by the world size, so that DDP's gradient
    average equals the full-batch gradient (values are unscaled; :mod:`clmlf.losses.distributed`)."""

    def __init__(self, terms: Sequence[Term]) -> None:
        super().__init__()
        names = [term.name for term in terms]
        if len(set(names)) != len(names):
            raise ValueError(f"loss terms need distinct names; got {names}")
        for term in terms:
            if not isinstance(term.module, nn.Module):
                raise TypeError(f"loss term {term.name!r} must be an nn.Module called as term(step); got {type(term.module).__name__}")
        self.terms = [term for term in terms if term.weight > 0]
        if not self.terms:
            raise ValueError("every loss term has weight 0; give at least one a weight > 0")
        self.parts = nn.ModuleList(term.module for term in terms)

    @classmethod
    def from_specs(cls, specs: Sequence[LossTermSpec], distributed: bool = False) -> Criterion:
        """The terms the ``losses`` specs describe; ``distributed``: inside a torch.distributed job, where terms with
        ``cross_rank`` take every rank's rows. A term that cannot be built is reported as ``losses.<i>``."""
        terms, problems = [], []
        for index, (spec, name) in enumerate(zip(specs, logged_names([spec.type for spec in specs]))):
            try:
                terms.append(Term(name, spec.build(distributed=distributed), spec.weight, spec.uses))
            except (ValueError, TypeError) as error:
                problems.append(f"losses.{index} ({spec.type}): {error}")
        if problems:
            raise SpecError("config", problems)
        return cls(terms)

    @property
    def uses(self) -> frozenset[str]:
        """What the weighted terms read beyond logits and labels: the trainer makes the augmented view for ``z_aug``."""
        return frozenset().union(*(term.uses for term in self.terms))

    def forward(self, step: TrainingStep) -> LossOutput:
        total, logged = None, {}
        for term in self.terms:
            value, parts = term.module(step), {}
            if isinstance(value, LossOutput):
                value, parts = value.total, value.terms
            if not isinstance(value, Tensor) or value.dim() != 0:
                raise TypeError(f"loss term {term.name!r} returned {getattr(value, 'shape', type(value).__name__)}; "
                                "a term returns a 0-d tensor or LossOutput (docs/loss_terms.md)")
            logged[term.name] = value.detach()
            logged.update({f"{term.name}/{part}": part_value.detach() for part, part_value in parts.items()})
            weighted = term.weight * scale_grad_for_ddp(value, getattr(term.module, "cross_rank", False))
            total = weighted if total is None else total + weighted
        return LossOutput(total, logged)
