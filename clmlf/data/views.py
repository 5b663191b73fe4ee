"""Image views: PIL image -> normalised float tensor (3, S, S).

``eval``/``none``: Resize(round(S / crop_pct)) -> CenterCrop(S) -> [0, 1] float -> Normalize(mean, std)
(S = 224, crop_pct = 0.875 gives the reference Resize(256) -> CenterCrop(224)).
``randaugment`` (training, REFERENCE §3): torchvision RandAugment(num_ops, magnitude, 31 bins) on the full
image, then the same resize/crop, RandomHorizontalFlip, and normalisation. torchvision's RandAugment draws
from 14 ops; the reference implementation also had Cutout and Invert (16 ops), so the two differ slightly.
:class:`TwoViews` makes the pair of independently augmented views DBCL contrasts.

``mean``/``std``/``crop_pct``/``interpolation`` left as ``None`` mean "the image encoder's pretrained config":
the caller fills them from timm's ``pretrained_cfg`` (EfficientNet-Lite0: mean = std = 0.5, bicubic;
ResNet: ImageNet statistics); whatever is still ``None`` falls back to ImageNet / 0.875 / bilinear.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from PIL import Image
from pydantic import Field, PositiveInt
from torch import Tensor
from torchvision.transforms import InterpolationMode, v2

from clmlf.registry import register
from clmlf.spec import ComponentSpec

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
DEFAULT_CROP_PCT = 0.875
MAGNITUDE_BINS = 31  # magnitudes 0..30, as in the reference (m = 14 of 30)
Interpolation = Literal["bilinear", "bicubic", "nearest"]
ImageTransform = Callable[[Image.Image], Tensor]


def _resize_crop_normalise(
    image_size: int,
    crop_pct: float | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    interpolation: Interpolation | None,
    hflip: bool,
) -> list[Callable]:
    crop_pct = DEFAULT_CROP_PCT if crop_pct is None else crop_pct
    if not 0.0 < crop_pct <= 1.0:
        raise ValueError(f"crop_pct must lie in (0, 1], got {crop_pct}")
    return [
        v2.Resize(round(image_size / crop_pct), InterpolationMode(interpolation or "bilinear")),
        v2.CenterCrop(image_size),
        *([v2.RandomHorizontalFlip()] if hflip else []),
        ToNormalisedTensor(mean or IMAGENET_MEAN, std or IMAGENET_STD),
    ]


class ToNormalisedTensor:
    """RGB PIL image -> contiguous float32 (3, H, W) ``(x / 255 - mean) / std``.

    The float operations of ``v2.ToImage -> v2.ToDtype(float32, scale=True) -> v2.Normalize`` (bit-identical
    output), but the channel transpose happens in the one uint8 -> float32 copy, so the arithmetic runs on
    contiguous memory (ToImage's (3, H, W) is a strided view of the (H, W, 3) pixels, which made Normalize slow).
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        if not all(std):
            raise ValueError(f"std must be non-zero, got {tuple(std)}")
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __call__(self, image: Image.Image) -> Tensor:
        pixels = v2.functional.pil_to_tensor(image)  # uint8 (C, H, W), strided
        return pixels.to(torch.float32, memory_format=torch.contiguous_format).mul_(1 / 255).sub_(self.mean).div_(self.std)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()})"


def eval_transform(
    image_size: int = 224,
    crop_pct: float | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    interpolation: Interpolation | None = None,
) -> ImageTransform:
    """Deterministic view: RGB PIL image -> float32 (3, image_size, image_size)."""
    return v2.Compose(_resize_crop_normalise(image_size, crop_pct, mean, std, interpolation, hflip=False))


def train_transform(
    num_ops: int = 2,
    magnitude: int = 14,
    image_size: int = 224,
    hflip: bool = True,
    crop_pct: float | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    interpolation: Interpolation | None = None,
) -> ImageTransform:
    """Random view: RandAugment(num_ops, magnitude of 0..30) -> resize/crop -> [hflip] -> float32 (3, S, S)."""
    if not 0 <= magnitude < MAGNITUDE_BINS:
        raise ValueError(f"RandAugment magnitude must lie in 0..{MAGNITUDE_BINS - 1}, got {magnitude}")
    randaugment = v2.RandAugment(num_ops=num_ops, magnitude=magnitude, num_magnitude_bins=MAGNITUDE_BINS)
    return v2.Compose([randaugment, *_resize_crop_normalise(image_size, crop_pct, mean, std, interpolation, hflip)])


class TwoViews:
    """image -> (view, view'): ``transform`` applied twice with independent randomness (``second`` for the other view)."""

    def __init__(self, transform: ImageTransform, second: ImageTransform | None = None) -> None:
        self.transform = transform
        self.second = second or transform

    def __call__(self, image: Image.Image) -> tuple[Tensor, Tensor]:
        return self.transform(image), self.second(image)

    def __repr__(self) -> str:
        return f"TwoViews({self.transform!r}, second={'same' if self.second is self.transform else repr(self.second)})"


class ViewOptions(ComponentSpec):
    """Fields both view specs share (not registered itself); ``None`` = from the image encoder's config. In a
    training config, fields left unset follow the data section (``image_size`` = ``data.image_size``)."""

    image_size: PositiveInt = 224
    crop_pct: float | None = Field(None, gt=0.0, le=1.0)
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    interpolation: Interpolation | None = None


class NoAugmentationSpec(ViewOptions):
    type: Literal["none"] = "none"


class RandAugmentSpec(ViewOptions):
    type: Literal["randaugment"] = "randaugment"
    num_ops: int = Field(2, ge=0)
    magnitude: int = Field(14, ge=0, le=MAGNITUDE_BINS - 1)
    hflip: bool = True


register("augmentation", "none", spec=NoAugmentationSpec)(eval_transform)
register("augmentation", "randaugment", spec=RandAugmentSpec)(train_transform)
