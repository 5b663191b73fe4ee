"""Run a frozen image backbone once over every image and keep the feature maps (fp16, safetensors on disk).

Training on cached maps skips the backbone in every step; it is exact for the evaluation view (the backbone is
frozen and in eval mode) and uses a fixed number of pre-drawn RandAugment views for DBCL. The cache key is a
hash of the encoder spec and weights (its ``backbone``'s, else the whole encoder's), the transform, each image's
id, path, size and modification time (and the seed of augmented views), so any change recomputes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from clmlf.contracts import trainable_part
from clmlf.data.images import load_image
from clmlf.data.samples import Sample
from clmlf.train.disk_cache import cache_key, load_or_compute, weights_fingerprint


@torch.no_grad()
def compute_features(
    encoder, samples: Sequence[Sample], transform: Callable, batch_size: int, device: torch.device, description: str,
    progress: bool = True,
) -> Tensor:
    """(N, C, h, w) fp16 feature maps of ``encoder.features`` for every sample's image (a progress bar unless
    ``progress`` is False)."""
    encoder.eval()
    chunks = []
    for start in tqdm(range(0, len(samples), batch_size), desc=description, unit="batch", leave=False, disable=not progress):
        chunk = samples[start : start + batch_size]
        pixels = torch.stack([transform(load_image(s.image_path, s.id)) for s in chunk]).to(device)
        features = encoder.features(pixels)
        chunks.append(features.to(torch.float16).contiguous().cpu())
    return torch.cat(chunks)


def image_fingerprint(sample: Sample) -> str:
    """``"id:path:size:mtime_ns"``: a file replaced in place (new size or modification time) misses the cache."""
    stat = os.stat(sample.image_path)
    return f"{sample.id}:{sample.image_path}:{stat.st_size}:{stat.st_mtime_ns}"


def cached_features(
    encoder,
    encoder_spec: dict,
    samples: Sequence[Sample],
    transform: Callable,
    view: int,
    cache_dir: Path,
    device: torch.device,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = True,
) -> Tensor:
    """Load or compute (and atomically store) the features of one view; augmented views use ``seed + view``."""
    key = cache_key({"encoder": encoder_spec, "weights": weights_fingerprint(trainable_part(encoder)), "transform": repr(transform),
                     "view": view, "seed": seed if view else None, "images": [image_fingerprint(s) for s in samples]})

    def compute() -> dict[str, Tensor]:
        torch.manual_seed(seed + view)
        description = "image features" if view == 0 else f"augmented view {view}"
        return {"features": compute_features(encoder, samples, transform, batch_size, device, description, progress)}

    return load_or_compute(cache_dir / f"{key}.safetensors", compute)["features"]
