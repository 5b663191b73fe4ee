"""Training on several processes with torch.distributed: ``torchrun --nproc_per_node N -m clmlf train CONFIG``.

torchrun starts N copies of the command and sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``; :func:`process_group` joins them (NCCL on CUDA, one GPU per local rank; gloo on CPU). The trainer
then keeps the single-process semantics:

* ``train.batch_size`` is the *global* batch. Every rank builds the same seeded order, cuts it into the same global
  batches as one process would, and trains on its contiguous slice of each (:meth:`Distributed.batches`), so the
  ranks' rows concatenated in rank order are exactly the single-process batch.
* Losses are global-batch values with exact gradients for the local rows (cross-rank negatives for LBCL/DBCL, a
  global mean for cross-entropy, :mod:`clmlf.losses.distributed`), scaled by the world size before DDP averages:
  DDP's gradient is the single-process gradient of the same global batch.
* Evaluation: each rank predicts a contiguous slice of the split with rank 0's buffers (BatchNorm statistics) and
  the predictions are all-gathered in order, so the metrics are those of one process holding rank 0's model.
* Feature caches are built by each node's local rank 0 while the other ranks wait, then loaded by them.
* Rank 0 alone logs, shows progress bars and writes the run directory; the other ranks read it (the best
  checkpoint at the end, ``--resume``), so on several nodes ``--out`` must be on a shared filesystem.

Random streams (dropout, augmentation) are seeded per rank and epoch (:meth:`Distributed.seed`): a run is
reproducible for a given number of processes. The saved state does not depend on it, so a run can be resumed
with a different number of processes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from typing import Any, Literal, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

Backend = Literal["auto", "nccl", "gloo"]
T = TypeVar("T")


@dataclass(frozen=True)
class Distributed:
    """This process's place in the job: ``rank`` of ``world`` processes (``Distributed()``: a single process)."""

    rank: int = 0
    world: int = 1

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def seed(self, base: int) -> int:
        """A per-rank seed: ``base`` itself on rank 0 (so one process is unchanged), distinct streams elsewhere."""
        return base + 1_000_003 * self.rank

    def check_batch_size(self, batch_size: int) -> None:
        if batch_size < self.world:
            raise ValueError(f"train.batch_size is the global batch ({batch_size}) and must be at least the number of processes ({self.world})")

    def global_batches(self, order: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, ...]:
        """``order`` (N,) cut into global batches of ``batch_size``; with several ranks a last batch smaller than
        the world is dropped (every rank needs at least one row)."""
        batches = order.split(batch_size)
        return batches[:-1] if self.enabled and len(batches[-1]) < self.world else batches

    def batches(self, order: torch.Tensor, batch_size: int) -> list[list[int]]:
        """This rank's contiguous slice of each global batch (slice sizes differ by at most one, lower ranks first)."""
        return [self.shard(batch).tolist() for batch in self.global_batches(order, batch_size)]

    def shard(self, items: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous slice of ``items`` (N, ...), in rank order."""
        return items.tensor_split(self.world)[self.rank]

    def shard_loader(self, loader: DataLoader) -> DataLoader:
        """``loader`` restricted to this rank's contiguous slice of its dataset (evaluation), same batch size; no
        batches on a rank whose slice is empty (a split smaller than the world)."""
        if not self.enabled:
            return loader
        indices = self.shard(torch.arange(len(loader.dataset)))
        return loader_over(loader, [batch.tolist() for batch in indices.split(loader.batch_size) if len(batch)])

    def wrap(self, module: nn.Module, device: torch.device, find_unused_parameters: bool = False) -> nn.Module:
        """``module`` in DistributedDataParallel over its parameters that require grad *now*; itself on one process."""
        if not self.enabled:
            return module
        device_ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(module, device_ids=device_ids, find_unused_parameters=find_unused_parameters)

    def sync(self, module: nn.Module, now: bool):
        """Context for one forward + backward of :meth:`wrap`'s ``module``: gradients are all-reduced only when
        ``now`` (the last micro-batch before an optimizer step)."""
        return module.no_sync() if self.enabled and not now else nullcontext()

    def concat(self, value: T) -> T:
        """A dataclass of this rank's rows -> the same over every rank's rows in rank order: tensor fields are
        concatenated along dim 0 and list fields joined (all-gathered); other fields keep this rank's value."""
        if not self.enabled:
            return value
        parts: list[Any] = [None] * self.world
        dist.all_gather_object(parts, value)
        joined = {}
        for field in fields(value):
            items = [getattr(part, field.name) for part in parts]
            if isinstance(items[0], torch.Tensor):
                joined[field.name] = torch.cat(items)
            elif isinstance(items[0], list):
                joined[field.name] = [item for rank_items in items for item in rank_items]
        return replace(value, **joined)

    def share_buffers(self, module: nn.Module) -> None:
        """Rank 0's buffers on every rank. A rank's own training forwards move its BatchNorm statistics away from
        rank 0's after DDP's broadcast; evaluation must see the model rank 0 saves."""
        if self.enabled:
            for buffer in module.buffers():
                dist.broadcast(buffer, src=0)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def agree(self, action: Callable[[], T]) -> T:
        """``action()`` on this rank, then one collective: when it raised on any rank, every rank raises (its own
        error, or one naming the failed rank and its message) instead of the others waiting at the next barrier
        (e.g. rank 0 refused the run directory's lock)."""
        try:
            result, failure = action(), None
        except Exception as error:  # noqa: BLE001 - re-raised below, on every rank
            result, failure = None, error
        if self.enabled:
            messages: list[str | None] = [None] * self.world
            dist.all_gather_object(messages, None if failure is None else f"{type(failure).__name__}: {failure}")
            failed = [rank for rank, message in enumerate(messages) if message]
            if failure is None and failed:
                raise RuntimeError(f"rank {failed[0]} stopped the job: {messages[failed[0]]}")
        if failure is not None:
            raise failure
        return result

    @contextmanager
    def local_main_first(self) -> Iterator[None]:
        """Run the block on each node's local rank 0 first, then on the other ranks (which then find its on-disk
        caches instead of computing them again); one barrier in all."""
        local_main = int(os.environ.get("LOCAL_RANK", self.rank)) == 0
        if not local_main:
            self.barrier()
        try:
            yield
        finally:  # a failing local main still releases the others, which then meet (and report) the error themselves
            if local_main:
                self.barrier()


def loader_over(loader: DataLoader, batches: list[list[int]]) -> DataLoader:
    """A loader with ``loader``'s dataset, collation and workers that yields the given batches of indices."""
    return DataLoader(loader.dataset, batch_sampler=batches, collate_fn=loader.collate_fn, num_workers=loader.num_workers,
                      pin_memory=loader.pin_memory, prefetch_factor=loader.prefetch_factor)


def is_main_process() -> bool:
    """Rank 0 of a torchrun job, or a plain process (reads ``RANK``; usable before or after :func:`process_group`)."""
    return int(os.environ.get("RANK", "0")) == 0


def resolve_backend(backend: Backend, device: torch.device) -> str:
    """NCCL for CUDA, gloo for CPU under ``auto``; NCCL without CUDA is an error."""
    if backend == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl" and device.type != "cuda":
        raise ValueError("train.dist_backend: nccl needs CUDA, but training runs on the CPU (train.device); use gloo or auto")
    return backend


def rank_device(device: torch.device, local_rank: int) -> torch.device:
    """The device of local rank ``local_rank``: ``cuda:LOCAL_RANK`` (made current) on CUDA, else ``device``."""
    if device.type != "cuda":
        return device
    if local_rank >= torch.cuda.device_count():
        raise RuntimeError(f"LOCAL_RANK {local_rank} has no GPU: {torch.cuda.device_count()} visible; start at most that many processes per node")
    device = torch.device("cuda", local_rank)
    torch.cuda.set_device(device)
    return device


@contextmanager
def process_group(device: torch.device, backend: Backend = "auto", timeout_min: float | None = None) -> Iterator[tuple[Distributed, torch.device]]:
    """Join the torchrun job described by the environment for the block; yields ``(Distributed, this rank's device)``.

    No ``WORLD_SIZE`` (or 1): a plain single process. A group the caller already initialised is used as it is and
    left open. Otherwise the group is initialised from the environment (``env://``) with collectives that fail after
    ``timeout_min`` minutes (None: torch's default, 10 for NCCL) and destroyed at exit; the ranks waiting while a local
    main builds the feature caches (:meth:`Distributed.local_main_first`) wait that long at most. Ranks other than 0
    log errors only.
    """
    if dist.is_available() and dist.is_initialized():
        if device.type == "cuda":
            device = torch.device("cuda", torch.cuda.current_device())
        yield Distributed(dist.get_rank(), dist.get_world_size()), device
        return
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        yield Distributed(), device
        return
    if "LOCAL_RANK" not in os.environ:
        raise RuntimeError(f"WORLD_SIZE={world} but LOCAL_RANK is unset: start the processes with torchrun")
    backend = resolve_backend(backend, device)
    device = rank_device(device, int(os.environ["LOCAL_RANK"]))
    timeout = None if timeout_min is None else timedelta(minutes=timeout_min)
    dist.init_process_group(backend, device_id=device if backend == "nccl" else None, timeout=timeout)
    parallel = Distributed(dist.get_rank(), dist.get_world_size())
    logger = logging.getLogger("clmlf")
    level = logger.level
    if not parallel.is_main:
        logger.setLevel(logging.ERROR)
    try:
        yield parallel, device
    finally:
        logger.setLevel(level)
        dist.destroy_process_group()
