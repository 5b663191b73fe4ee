"""Run the frozen text backbone once over every text (original and back-translated) and keep its states.

Used while the text backbone is frozen (the reference's first training stage, or ``text_encoder.freeze``):
each step then starts from the cached states, so the stage costs only the fusion part. With ``depth=k`` the cache
holds the states after the first k layers instead, for fine-tuning above a bottom frozen for good
(``text_encoder.freeze_layers: k``): each step then runs only the layers above k. States are computed in eval mode
(no dropout inside the frozen layers), kept as fp16 trimmed to the real tokens, and stored on disk keyed by the
backbone's weights (the whole encoder's without a ``backbone``), the depth and the token tensors themselves
(:func:`inputs_fingerprint`; :mod:`.disk_cache`). Encoders with ``features``/``tokens`` only
(docs/components.md#text_encoder).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from clmlf.contracts import trainable_part
from clmlf.data.samples import Sample
from clmlf.train.disk_cache import cache_key, load_or_compute, weights_fingerprint
from clmlf.train.inputs import Collator, TextBank


@torch.no_grad()
def encode_texts(encoder, collator: Collator, texts: Sequence[str], aspects: Sequence[str | None],
                 device: torch.device, batch_size: int = 64, description: str = "text states",
                 depth: int | None = None, progress: bool = True) -> list[Tensor]:
    """[(L_i, H)] fp16 backbone states per text after ``depth`` layers (None: all), in input order (batched by
    length for speed; a progress bar unless ``progress`` is False)."""
    was_training = encoder.training
    encoder.eval()
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    states: list[Tensor | None] = [None] * len(texts)
    for start in tqdm(range(0, len(order), batch_size), desc=description, unit="batch", leave=False, disable=not progress):
        chunk = order[start : start + batch_size]
        batch = collator.text([texts[i] for i in chunk], [aspects[i] for i in chunk])
        batch = {key: value.to(device) for key, value in batch.items()}
        hidden = encoder.features(**batch, **({} if depth is None else {"depth": depth})).to(torch.float16).cpu()
        for row, index in enumerate(chunk):
            states[index] = hidden[row, : int(batch["attention_mask"][row].sum())].clone()
    encoder.train(was_training)
    return states


def inputs_fingerprint(collator: Collator, texts: Sequence[str], aspects: Sequence[str | None], chunk: int = 1024) -> str:
    """A digest of the token tensors the collator makes of ``texts`` (in order): whatever shapes them — tokenizer,
    formatter and its options, maximum length, aspects — changes it."""
    digest = hashlib.sha1()
    for start in range(0, len(texts), chunk):
        batch = collator.text(list(texts[start : start + chunk]), list(aspects[start : start + chunk]))
        for name in sorted(batch):
            digest.update(f"{name}{tuple(batch[name].shape)}".encode())
            digest.update(batch[name].numpy().tobytes())
    return digest.hexdigest()[:20]


def cached_texts(encoder, collator: Collator, texts: Sequence[str], aspects: Sequence[str | None], device: torch.device,
                 cache_dir: Path, description: str, depth: int | None = None, progress: bool = True) -> list[Tensor]:
    """:func:`encode_texts`, loaded from or stored in ``cache_dir``."""
    key = cache_key({"weights": weights_fingerprint(trainable_part(encoder)), **({} if depth is None else {"depth": depth}),
                     "inputs": inputs_fingerprint(collator, texts, aspects)})

    def compute() -> dict[str, Tensor]:
        states = encode_texts(encoder, collator, texts, aspects, device, description=description, depth=depth, progress=progress)
        return {"states": torch.cat(states), "lengths": torch.tensor([state.shape[0] for state in states])}

    stored = load_or_compute(cache_dir / f"text-{key}.safetensors", compute)
    return list(stored["states"].split(stored["lengths"].tolist()))


def text_bank(encoder, collator: Collator, samples: Sequence[Sample], device: torch.device, augmented: bool,
              cache_dir: Path, depth: int | None = None, progress: bool = True) -> TextBank:
    """Cached states (after ``depth`` layers; None: all) of every sample's text and (when ``augmented``) its
    back-translation."""
    aspects = [sample.aspect for sample in samples]
    suffix = "" if depth is None else f" (layer {depth})"
    original = cached_texts(encoder, collator, [s.text for s in samples], aspects, device, cache_dir, f"text states{suffix}", depth, progress)
    if not augmented:
        return TextBank(original, original, depth)
    back = cached_texts(encoder, collator, [s.text_aug or s.text for s in samples], aspects, device, cache_dir,
                        f"back-translation states{suffix}", depth, progress)
    return TextBank(original, back, depth)
