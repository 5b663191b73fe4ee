"""Cross-rank negatives: every rank scores its rows against the global batch (docs/method.md §2).

Each rank passes only its own rows. The losses all-gather the embeddings (values, no gradient), the labels and,
in the fused implementations, the per-row log-sum-exp, so that

* the returned value is the loss of the concatenated global batch, identical on every rank, and
* each rank's gradient for its own embeddings equals the matching rows of the single-process gradient,

with no gradient communication: class sums come from the gathered embeddings, and the column terms of a
rank's rows (its rows acting as negatives of other ranks' anchors) come from the gathered LSE.

Gradient convention (DDP). Every rank back-propagates exact rows for its own embeddings, and a shared scalar
such as a learnable temperature τ receives the share of the rank's own anchor rows (the shares sum to the
full-batch ∂L/∂τ; this is the OpenCLIP "local loss" convention). Summing the ranks' gradients therefore gives
the full-batch gradient of the global loss. DDP *averages* gradients over the W ranks, so scale the loss's
gradient by W before ``backward`` (:func:`scale_grad_for_ddp` does so and keeps the logged value unchanged):
DDP's averaged gradient then equals the full-batch gradient. A per-row loss such as cross-entropy follows the
same convention through :func:`global_mean` (a per-rank mean averaged by DDP is the global mean only when every
rank holds the same number of rows). :class:`clmlf.losses.Criterion` applies the scaling to every term built
with ``cross_rank``.

Ranks may hold different numbers of rows (a short last batch); all of them must call the loss together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch
import torch.distributed as dist
from torch import Tensor

from clmlf.losses._common import Temperature

CrossRank = Union[bool, "dist.ProcessGroup"]
"""``False`` (single process), ``True`` (the default process group) or a ``ProcessGroup``."""


@dataclass(frozen=True)
class RowGroup:
    """How the rows of the global batch are split over ranks: ``sizes[r]`` rows on rank ``r``, concatenated in rank order."""

    sizes: tuple[int, ...]
    rank: int = 0
    group: dist.ProcessGroup | None = None

    @classmethod
    def create(cls, n: int, cross_rank: CrossRank, device: torch.device) -> RowGroup:
        """The layout of ``n`` local rows; with ``cross_rank`` this all-gathers the row counts (a collective)."""
        if cross_rank is False:
            return cls((n,))
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError("cross_rank needs torch.distributed to be initialised (dist.init_process_group) first")
        group = dist.group.WORLD if cross_rank is True else cross_rank
        counts = [torch.zeros(1, dtype=torch.long, device=device) for _ in range(dist.get_world_size(group))]
        dist.all_gather(counts, torch.tensor([n], device=device), group=group)
        return cls(tuple(int(c) for c in counts), dist.get_rank(group), group)

    def times(self, factor: int) -> RowGroup:
        """The layout when each rank contributes ``factor`` rows per local row (e.g. two views)."""
        return RowGroup(tuple(factor * s for s in self.sizes), self.rank, self.group)

    @property
    def world(self) -> int:
        return len(self.sizes)

    @property
    def total(self) -> int:
        return sum(self.sizes)

    @property
    def offset(self) -> int:
        """Index of this rank's first row in the global batch."""
        return sum(self.sizes[: self.rank])

    @property
    def own(self) -> slice:
        """This rank's rows in the global batch."""
        return slice(self.offset, self.offset + self.sizes[self.rank])

    def gather(self, x: Tensor) -> Tensor:
        """(n, ...) local rows -> (total, ...) global rows; only this rank's slice carries autograd history."""
        if self.world == 1:
            return x
        width = max(self.sizes)
        padded = x.detach().new_zeros((width, *x.shape[1:]))
        padded[: x.shape[0]] = x.detach()
        parts = [torch.empty_like(padded) for _ in self.sizes]
        dist.all_gather(parts, padded, group=self.group)
        parts = [part[:size] for part, size in zip(parts, self.sizes)]
        parts[self.rank] = x
        return torch.cat(parts)

    def own_share(self, temperature: Temperature) -> Temperature:
        """Per-row copy of a learnable 0-d ``temperature``: (total,), detached outside this rank's rows, so that
        the temperature gradient is this rank's share. Floats and the single-process case pass through."""
        if self.world == 1 or not (isinstance(temperature, Tensor) and temperature.requires_grad):
            return temperature
        own = torch.zeros(self.total, dtype=torch.bool, device=temperature.device)
        own[self.own] = True
        return torch.where(own, temperature, temperature.detach())


def global_mean(values: Tensor, cross_rank: CrossRank) -> Tensor:
    """Per-row values (n,) -> 0-d mean over every rank's rows, identical on every rank; the gradient of each local
    row is exact (1 / total rows), so it follows the convention above. ``cross_rank=False``: ``values.mean()``."""
    if cross_rank is False:
        return values.mean()
    local = values.sum()
    totals = torch.stack([local.detach(), local.new_tensor(float(values.shape[0]))])
    dist.all_reduce(totals, group=dist.group.WORLD if cross_rank is True else cross_rank)
    return (local + (totals[0] - local.detach())) / totals[1]


def scale_grad_for_ddp(loss: Tensor, cross_rank: CrossRank) -> Tensor:
    """``loss`` with the same value and its gradient multiplied by the world size (see the module docstring)."""
    if cross_rank is False:
        return loss
    world = dist.get_world_size(dist.group.WORLD if cross_rank is True else cross_rank)
    return loss + (world - 1) * (loss - loss.detach())
