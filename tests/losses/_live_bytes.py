"""A CPU stand-in for CUDA's ``max_memory_allocated``: the peak bytes of tensor storages created while active."""

from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class LiveBytes(TorchDispatchMode):
    """``peak``: the most bytes alive at once of the storages that ops created while the mode was active. Views of
    storages that existed before (op inputs not created here) do not count."""

    def __init__(self) -> None:
        super().__init__()
        self.live = self.peak = 0
        self.created: set[int] = set()
        self.external: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        for t in tree_flatten((args, kwargs))[0]:
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in self.created:
                self.external.add(t.untyped_storage().data_ptr())
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            key, size = storage.data_ptr(), storage.nbytes()
            if size and key not in self.created and key not in self.external:
                self.created.add(key)
                self.live += size
                self.peak = max(self.peak, self.live)
                weakref.finalize(storage, self._free, key, size)
        return out

    def _free(self, key: int, size: int) -> None:
        self.live -= size
        self.created.discard(key)
