"""From samples to model inputs: a map-style dataset (images or cached feature maps) and the batch collator."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import Dataset, default_collate

from clmlf.data.images import load_image
from clmlf.data.samples import Sample


@dataclass(frozen=True)
class FeatureBank:
    """Cached backbone feature maps: ``views[0]`` the evaluation view (N, C, h, w), then augmented views."""

    views: tuple[Tensor, ...]

    def original(self, index: int) -> Tensor:
        return self.views[0][index]

    def augmented(self, index: int, generator: torch.Generator | None) -> Tensor:
        """A random cached augmented view (the evaluation view when none were cached)."""
        if len(self.views) == 1:
            return self.views[0][index]
        choice = 1 + int(torch.randint(len(self.views) - 1, (1,), generator=generator))
        return self.views[choice][index]


@dataclass(frozen=True)
class TextBank:
    """Cached text backbone states per sample, trimmed to the real tokens: (L_i, H) each, original and augmented;
    taken after ``depth`` backbone layers (None: all of them)."""

    original: list[Tensor]
    augmented: list[Tensor]
    depth: int | None = None


class PostDataset(Dataset):
    """Sample ``i`` -> dict with ``label``, ``text``, ``aspect``, the augmented text (back-translation, or the text
    itself when missing) and the image as pixels (``pixel_values`` (3, S, S)) or cached ``image_features``.

    ``augmented=True`` adds ``text_aug`` and ``pixel_values_aug`` / ``image_features_aug`` for DBCL.
    With a :class:`TextBank` the cached text backbone states replace tokenisation (``text_features`` (L_i, H), and
    ``text_depth`` when they stop below the last layer).
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        image_transform: Callable | None = None,
        augmented_transform: Callable | None = None,
        features: FeatureBank | None = None,
        augmented: bool = False,
        use_images: bool = True,
        text_features: TextBank | None = None,
    ) -> None:
        self.samples = list(samples)
        self.text_features = text_features
        self.image_transform = image_transform
        self.augmented_transform = augmented_transform or image_transform
        self.features = features
        self.augmented = augmented
        self.use_images = use_images
        self.generator: torch.Generator | None = None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        sample = self.samples[index]
        item = {"label": sample.label, "text": sample.text, "aspect": sample.aspect, "id": sample.id}
        if self.augmented:
            item["text_aug"] = sample.text_aug or sample.text
        if self.text_features is not None:
            item["text_features"] = self.text_features.original[index]
            if self.text_features.depth is not None:
                item["text_depth"] = self.text_features.depth
            if self.augmented:
                item["text_features_aug"] = self.text_features.augmented[index]
        if not self.use_images:
            return item
        if self.features is not None:
            item["image_features"] = self.features.original(index)
            if self.augmented:
                item["image_features_aug"] = self.features.augmented(index, self.generator)
        elif sample.image_path is not None:
            image = load_image(sample.image_path, sample.id)
            item["pixel_values"] = self.image_transform(image)
            if self.augmented:
                item["pixel_values_aug"] = self.augmented_transform(image)
        return item


class Collator:
    """List of dataset items -> batch dict of tensors: text fields via the formatter + tokenizer
    (``input_ids``, ``attention_mask``, ``token_type_ids``; ``aug_``-prefixed for the augmented view),
    stacked images/features, ``labels`` (B,) (items with a ``label``), ``ids`` and (cached text states) ``text_depth``."""

    def __init__(self, tokenizer, formatter, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.formatter = formatter
        self.max_length = max_length

    def text(self, texts: list[str], aspects: list[str | None]) -> dict[str, Tensor]:
        aspect_list = list(aspects) if self.formatter.uses_aspect else None
        return self.formatter(self.tokenizer, texts, aspect_list, self.max_length)

    def __call__(self, items: list[dict]) -> dict:
        aspects = [item["aspect"] for item in items]
        cached = "text_features" in items[0]
        batch: dict = pad_states([item["text_features"] for item in items]) if cached else dict(self.text([item["text"] for item in items], aspects))
        if "text_aug" in items[0]:
            augmented = pad_states([item["text_features_aug"] for item in items]) if cached else self.text([item["text_aug"] for item in items], aspects)
            batch.update({f"aug_{key}": value for key, value in augmented.items()})
        for key in ("pixel_values", "pixel_values_aug", "image_features", "image_features_aug"):
            if key in items[0]:
                batch[key] = default_collate([item[key] for item in items])  # in a worker: stacked into shared memory
        if "label" in items[0]:  # posts to predict have none
            batch["labels"] = torch.tensor([item["label"] for item in items])
        batch["ids"] = [item["id"] for item in items]
        if "text_depth" in items[0]:
            batch["text_depth"] = items[0]["text_depth"]
        return batch


def pad_states(states: list[Tensor]) -> dict[str, Tensor]:
    """[(L_i, H)] -> ``text_features`` (B, L_max, H) zero-padded and ``attention_mask`` (B, L_max)."""
    length = max(state.shape[0] for state in states)
    features = states[0].new_zeros(len(states), length, states[0].shape[1])
    mask = torch.zeros(len(states), length, dtype=torch.long)
    for row, state in enumerate(states):
        features[row, : state.shape[0]] = state
        mask[row, : state.shape[0]] = 1
    return {"text_features": features, "attention_mask": mask}


def model_inputs(batch: dict, device: torch.device, augmented: bool = False) -> dict[str, Tensor]:
    """The keyword arguments of :meth:`clmlf.CLMLF.forward` for the original or the augmented view."""
    prefix, suffix = ("aug_", "_aug") if augmented else ("", "")
    inputs = {
        name: batch[f"{prefix}{name}"].to(device, non_blocking=True)
        for name in ("input_ids", "attention_mask", "token_type_ids", "text_features")
        if f"{prefix}{name}" in batch
    }
    for name in ("pixel_values", "image_features"):
        if f"{name}{suffix}" in batch:
            inputs[name] = batch[f"{name}{suffix}"].to(device, non_blocking=True)
    if "text_depth" in batch:
        inputs["text_depth"] = batch["text_depth"]
    return inputs
