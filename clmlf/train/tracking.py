"""Experiment tracking: what the trainer logs as it trains, for TensorBoard (``tensorboard --logdir runs``) or any
:class:`Tracker` of your own (docs/tracking.md).

The step of every value is the optimizer step. The trainer logs (on rank 0 only under torchrun):

* ``train/<term>`` (``train/loss`` the weighted total, ``train/sc``, ``train/lbcl``, ...): the mean over the batches
  since the last log, every ``train.log_every`` optimizer steps and at the end of each epoch;
  ``train/samples_per_s`` over the same batches (every process's rows); ``lr/<group>`` per optimizer parameter group
  (its ``name`` where it has one: ``lr/text/decay``, ``lr/rest/no_decay``, ...; else its index);
* ``dev/<metric>`` (accuracy, f1, cross_entropy) and ``epoch`` after each epoch's evaluation;
* ``test/<metric>`` and the figures ``figures/curves`` and ``figures/confusion_test`` (:mod:`clmlf.train.plots`)
  at the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

logger = logging.getLogger("clmlf")


class Tracker(Protocol):
    """Where the trainer sends its scalars and figures (``Trainer(..., tracker=)``)."""

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """``values``: ``{tag: number}`` at optimizer step ``step``."""

    def log_figure(self, tag: str, figure: Any, step: int) -> None:
        """A matplotlib Figure (the caller closes it)."""

    def close(self) -> None:
        """Write out what is buffered; nothing is logged after."""


class TensorBoardTracker:
    """Event files in ``directory`` (torch.utils.tensorboard). ``purge_step``: TensorBoard drops the events an earlier
    session wrote here at this step or later (a resumed run continues after its last saved epoch)."""

    def __init__(self, directory: Path, purge_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(directory), purge_step=purge_step)

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def log_figure(self, tag: str, figure: Any, step: int) -> None:
        self.writer.add_figure(tag, figure, step, close=False)

    def close(self) -> None:
        self.writer.close()


def tensorboard_installed() -> bool:
    try:
        import torch.utils.tensorboard  # noqa: F401  (needs the tensorboard package)
    except ImportError:
        return False
    return True


def open_tensorboard(directory: Path, wanted: bool | None, purge_step: int | None = None) -> TensorBoardTracker | None:
    """A :class:`TensorBoardTracker` in ``directory`` as ``train.tensorboard`` asks: True (the package must be
    installed), None (when it is installed; else one log line and no tracking) or False (None: no tracking)."""
    if wanted is False:
        return None
    if not tensorboard_installed():
        if wanted:
            raise ModuleNotFoundError("train.tensorboard: true needs the tensorboard package: pip install 'clmlf[tensorboard]', "
                                      "or set train.tensorboard: false")
        logger.info("TensorBoard logs off: the tensorboard package is not installed (pip install 'clmlf[tensorboard]')")
        return None
    return TensorBoardTracker(directory, purge_step)


def learning_rates(optimizer: torch.optim.Optimizer) -> dict[str, float]:
    """``{"lr/<group name or index>": lr}`` of every parameter group."""
    return {f"lr/{group.get('name', index)}": float(group["lr"]) for index, group in enumerate(optimizer.param_groups)}


@dataclass
class LossTerms:
    """Running sums of the loss terms (for logging), kept as 0-d tensors where the terms live: adding a step reads
    nothing back to the host (no GPU synchronisation); :meth:`means` does."""

    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    count: int = 0

    def add(self, terms: Mapping[str, torch.Tensor]) -> None:
        for name, value in terms.items():
            value = value.detach().double()
            self.sums[name] = self.sums[name] + value if name in self.sums else value
        self.count += 1

    def means(self) -> dict[str, float]:
        return {name: float(total) / max(self.count, 1) for name, total in self.sums.items()}


class TrainingWindow:
    """The batches since the last log: their loss terms, the rows trained and the time since :meth:`reset`."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.terms, self.rows, self.started = LossTerms(), 0, time.perf_counter()

    def add(self, terms: Mapping[str, torch.Tensor], rows: int) -> None:
        self.terms.add(terms)
        self.rows += rows

    def scalars(self, world: int) -> dict[str, float]:
        """``train/<term>`` means (reads the device) and ``train/samples_per_s`` (this process's rows times
        ``world``); then resets."""
        values = {f"train/{name}": value for name, value in self.terms.means().items()}
        values["train/samples_per_s"] = self.rows * world / max(time.perf_counter() - self.started, 1e-9)
        self.reset()
        return values
