"""Run the frozen text backbone once over every text (original and back-translated) and keep its states.

Used while the text backbone is frozen (the reference's first training stage, or ``text_encoder.freeze``):
each step then starts from the cached states, so the stage costs only the fusion part. States are computed
in eval mode (no dropout inside the frozen backbone) and kept in memory as fp16, trimmed to the real tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from clmlf.data.samples import Sample
from clmlf.train.inputs import Collator, TextBank


@torch.no_grad()
def encode_texts(encoder, collator: Collator, texts: Sequence[str], aspects: Sequence[str | None],
                 device: torch.device, batch_size: int = 64, description: str = "text states") -> list[Tensor]:
    """[(L_i, H)] fp16 backbone states per text, in input order (batched by length for speed)."""
    was_training = encoder.training
    encoder.eval()
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    states: list[Tensor | None] = [None] * len(texts)
    for start in tqdm(range(0, len(order), batch_size), desc=description, unit="batch", leave=False):
        chunk = order[start : start + batch_size]
        batch = collator.text([texts[i] for i in chunk], [aspects[i] for i in chunk])
        batch = {key: value.to(device) for key, value in batch.items()}
        hidden = encoder.features(**batch).to(torch.float16).cpu()
        for row, index in enumerate(chunk):
            states[index] = hidden[row, : int(batch["attention_mask"][row].sum())].clone()
    encoder.train(was_training)
    return states


def text_bank(encoder, collator: Collator, samples: Sequence[Sample], device: torch.device, augmented: bool) -> TextBank:
    """Cached states of every sample's text and (when ``augmented``) its back-translation."""
    aspects = [sample.aspect for sample in samples]
    original = encode_texts(encoder, collator, [s.text for s in samples], aspects, device)
    if not augmented:
        return TextBank(original, original)
    return TextBank(original, encode_texts(encoder, collator, [s.text_aug or s.text for s in samples], aspects, device,
                                           description="back-translation states"))
