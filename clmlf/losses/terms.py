"""The loss-term contract (docs/loss_terms.md): what every term of the training objective receives and returns.

A term is an ``nn.Module`` registered as a ``loss`` component with a :class:`LossTermSpec`; the trainer calls it as
``term(step: TrainingStep)`` and it returns a 0-d tensor, or a :class:`LossOutput` whose named parts are logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field
from torch import Tensor

from clmlf.spec import ComponentSpec

TERM_INPUTS = frozenset({"z", "z_aug"})
"""What a term may declare in :attr:`LossTermSpec.uses` (logits and labels are always there)."""
_WHERE = {
    "z": "the model's projection of the original view (output.z; CLMLF: add model.projection)",
    "z_aug": "the projection of the augmented view (made only when a weighted term lists 'z_aug' in its uses)",
}


@dataclass
class TrainingStep:
    """What every loss term receives from one training step."""

    logits: Tensor              # (B, C), float32
    labels: Tensor              # (B,) int64
    z: Tensor | None            # (B, P) projection of the original view (None when the model has no projection)
    z_aug: Tensor | None        # (B, P) projection of the augmented view (None unless some term uses "z_aug")
    output: Any = None          # the model's output on the original view (CLMLFOutput for CLMLF: pooled, fused, ...)
    output_aug: Any | None = None  # ... on the augmented view, or None

    def require(self, name: str, term: str) -> Tensor:
        """``self.<name>`` (e.g. ``"z"``), or a ValueError naming the term and where the missing input comes from."""
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"loss term {term!r} needs {name}: {_WHERE.get(name, name)}")
        return value


@dataclass
class LossOutput:
    """total: 0-d loss to back-propagate; terms: name -> detached 0-d value of each term (or part), for logging."""

    total: Tensor
    terms: dict[str, Tensor]


class LossTermSpec(ComponentSpec):
    """Base of every ``loss`` spec. ``weight`` is the term's weight in the total (0 turns it off) and is not passed
    to the constructor; ``uses`` says what the term reads beyond logits and labels (a subset of :data:`TERM_INPUTS`).
    A ``cross_rank`` field means "under torchrun": :meth:`build` passes it on only when ``distributed``."""

    type: str
    weight: float = Field(1.0, ge=0, description="the term's weight in the total loss; 0 turns it off")
    uses: ClassVar[frozenset[str]] = frozenset()

    def kwargs(self) -> dict[str, Any]:
        return {name: value for name, value in super().kwargs().items() if name != "weight"}

    def build(self, distributed: bool = False, **overrides: Any) -> Any:
        if "cross_rank" in type(self).model_fields:
            overrides.setdefault("cross_rank", self.cross_rank and distributed)
        return super().build(**overrides)


def inputs_used(terms: Sequence[LossTermSpec]) -> frozenset[str]:
    """What the terms with a weight > 0 read beyond logits and labels."""
    return frozenset().union(*(term.uses for term in terms if term.weight > 0))
