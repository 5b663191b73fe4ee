"""Tensors computed once and kept on disk (safetensors, written atomically), keyed by what produced them.

A key hashes a JSON payload that must name everything the tensors depend on — for model outputs, the weights
themselves (:func:`weights_fingerprint`), so a randomly initialised or fine-tuned model never reuses another's cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn


def default_cache_dir() -> Path:
    return Path(os.environ.get("CLMLF_CACHE_DIR", Path.home() / ".cache" / "clmlf")) / "features"


def cache_key(payload: dict) -> str:
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]


@torch.no_grad()
def weights_fingerprint(module: nn.Module, values: int = 256) -> str:
    """A digest of every parameter and buffer: name, shape, sum and the first ``values`` entries (cheap, and any
    re-initialisation or update changes it)."""
    digest = hashlib.sha1()
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        flat = tensor.detach().flatten()
        head = flat[:values].double().cpu()
        digest.update(f"{name}{tuple(tensor.shape)}{float(flat.double().sum()):.12e}".encode())
        digest.update(head.numpy().tobytes())
    return digest.hexdigest()[:20]


def load_or_compute(path: Path, compute: Callable[[], dict[str, Tensor]]) -> dict[str, Tensor]:
    """The tensors stored at ``path``, or ``compute()``'s, stored there first (atomically: no half-written file)."""
    from safetensors.torch import load_file, save_file

    if path.is_file():
        return load_file(str(path))
    tensors = {name: tensor.contiguous() for name, tensor in compute().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
        temporary = handle.name
    save_file(tensors, temporary)
    os.replace(temporary, path)
    return tensors
