"""Tensors computed once and kept on disk (safetensors, written atomically), keyed by what produced them.

A key hashes a JSON payload that must name everything the tensors depend on — for model outputs, the weights
themselves (:func:`weights_fingerprint`), so a randomly initialised or fine-tuned model never reuses another's cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from clmlf.storage import writing

logger = logging.getLogger("clmlf")


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


ENTRY, CHECKSUM = "clmlf_entry", "clmlf_sha1"
"""Metadata of every cache file: its key (the file name's stem) and a digest of its tensors."""


def tensors_digest(tensors: dict[str, Tensor]) -> str:
    """A SHA-1 of every tensor's name, dtype, shape and bytes."""
    digest = hashlib.sha1()
    for name in sorted(tensors):
        tensor = tensors[name].contiguous()
        digest.update(f"{name}{tensor.dtype}{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def read_verified(path: Path) -> tuple[dict[str, Tensor] | None, str]:
    """The tensors of a cache file and ``""``, or None and why they cannot be trusted (unreadable, truncated, not
    this key's, or not matching their checksum)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, RuntimeError, ValueError) as error:
        return None, f"unreadable ({' '.join(str(error).split())})"
    if metadata.get(ENTRY) != path.stem or CHECKSUM not in metadata:
        return None, "written for another key or by an older clmlf"
    if metadata[CHECKSUM] != tensors_digest(tensors):
        return None, "its tensors do not match their checksum"
    return tensors, ""


def load_or_compute(path: Path, compute: Callable[[], dict[str, Tensor]]) -> dict[str, Tensor]:
    """The tensors stored at ``path``, or ``compute()``'s, stored there first (atomically: no half-written file, and
    no temporary one left when the write fails). A stored file that fails :func:`read_verified` is discarded and
    rebuilt, with one log line naming it."""
    from safetensors.torch import save_file

    if path.is_file():
        tensors, problem = read_verified(path)
        if tensors is not None:
            return tensors
        logger.warning("feature cache %s: %s; discarded and rebuilt", path, problem)
        path.unlink(missing_ok=True)
    tensors = {name: tensor.contiguous() for name, tensor in compute().items()}
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            temporary = handle.name
        try:
            save_file(tensors, temporary, metadata={ENTRY: path.stem, CHECKSUM: tensors_digest(tensors)})
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return tensors
