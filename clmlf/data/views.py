"""Image views: PIL image -> uint8 pixels (3, S, S); the image encoder normalises them on its device.

``eval``/``none``: Resize(round(S / crop_pct)) -> CenterCrop(S) -> uint8 tensor
(S = 224, crop_pct = 0.875 gives the reference Resize(256) -> CenterCrop(224)).
``randaugment`` (training, docs/method.md §3): torchvision RandAugment(num_ops, magnitude, 31 bins) on the full
image, then the same resize/crop and RandomHorizontalFlip. torchvision's RandAugment draws from 14 ops; the
reference implementation also had Cutout and Invert (16 ops), so the two differ slightly.
:class:`TwoViews` makes the pair of independently augmented views DBCL contrasts.

Batches carry uint8 pixels (4x fewer bytes than float32 between DataLoader workers and the main process, and
to the device); ``(x / 255 - mean) / std`` with the encoder's pretrained statistics happens in
:meth:`clmlf.encoders.ImageTokenEncoder.features`.

``crop_pct``/``interpolation`` left as ``None`` mean "the image encoder's pretrained config": the caller fills
them from timm's ``pretrained_cfg``; whatever is still ``None`` falls back to 0.875 / bilinear.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from PIL import Image
from pydantic import Field, PositiveInt, model_validator
from pydantic_core import PydanticCustomError
from torch import Tensor
from torchvision.transforms import InterpolationMode, v2

from clmlf.spec import ComponentSpec

DEFAULT_CROP_PCT = 0.875
NORMALISATION_FIELDS = ("mean", "std")  # view fields before the encoder normalised (null in old run configs)
MAGNITUDE_BINS = 31  # magnitudes 0..30, as in the reference (m = 14 of 30)
Interpolation = Literal["bilinear", "bicubic", "nearest"]
ImageTransform = Callable[[Image.Image], Tensor]


def _resize_crop_pixels(image_size: int, crop_pct: float | None, interpolation: Interpolation | None, hflip: bool) -> list[Callable]:
    crop_pct = DEFAULT_CROP_PCT if crop_pct is None else crop_pct
    if not 0.0 < crop_pct <= 1.0:
        raise ValueError(f"crop_pct must lie in (0, 1], got {crop_pct}")
    return [
        v2.Resize(round(image_size / crop_pct), InterpolationMode(interpolation or "bilinear")),
        v2.CenterCrop(image_size),
        *([v2.RandomHorizontalFlip()] if hflip else []),
        ToPixels(),
    ]


class ToPixels:
    """RGB PIL image -> contiguous uint8 (3, H, W) (``pil_to_tensor`` gives a strided view of the (H, W, 3) pixels)."""

    def __call__(self, image: Image.Image) -> Tensor:
        return v2.functional.pil_to_tensor(image).contiguous()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def eval_transform(image_size: int | None = 224, crop_pct: float | None = None, interpolation: Interpolation | None = None) -> ImageTransform:
    """Deterministic view: RGB PIL image -> uint8 (3, image_size, image_size) (``image_size`` None: 224)."""
    return v2.Compose(_resize_crop_pixels(image_size or 224, crop_pct, interpolation, hflip=False))


def train_transform(
    num_ops: int = 2,
    magnitude: int = 14,
    image_size: int | None = 224,
    hflip: bool = True,
    crop_pct: float | None = None,
    interpolation: Interpolation | None = None,
) -> ImageTransform:
    """Random view: RandAugment(num_ops, magnitude of 0..30) -> resize/crop -> [hflip] -> uint8 (3, S, S)
    (``image_size`` None: 224)."""
    if not 0 <= magnitude < MAGNITUDE_BINS:
        raise ValueError(f"RandAugment magnitude must lie in 0..{MAGNITUDE_BINS - 1}, got {magnitude}")
    randaugment = v2.RandAugment(num_ops=num_ops, magnitude=magnitude, num_magnitude_bins=MAGNITUDE_BINS)
    return v2.Compose([randaugment, *_resize_crop_pixels(image_size or 224, crop_pct, interpolation, hflip)])


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
    """Fields both view specs share (not registered itself); ``None`` = from the image encoder's config, and for
    ``image_size`` from ``data.image_size`` (224 for a view built alone). A size given must equal ``data.image_size``."""

    image_size: PositiveInt | None = Field(None, description="side of the view in pixels; null: data.image_size (224 "
                                           "for a view built alone)")
    crop_pct: float | None = Field(None, gt=0.0, le=1.0, description="resize to image_size / crop_pct, then centre-crop "
                                   "image_size; null: the image encoder's pretrained value, else 0.875")
    interpolation: Interpolation | None = Field(None, description="resize interpolation: bilinear, bicubic or nearest; "
                                                "null: the image encoder's pretrained value, else bilinear")

    @classmethod
    def example(cls) -> dict[str, Any]:
        return {"image_size": 48}

    @model_validator(mode="before")
    @classmethod
    def _no_view_normalisation(cls, data: Any) -> Any:
        """Drop the ``mean: null`` / ``std: null`` of run configs saved when views normalised; refuse values."""
        if not isinstance(data, Mapping):
            return data
        given = [key for key in NORMALISATION_FIELDS if data.get(key) is not None]
        if given:
            raise PydanticCustomError(
                "view_normalisation",
                "{fields}: views give uint8 pixels and the image encoder normalises them with its own pretrained "
                "mean/std; remove {fields} from the augmentation",
                {"fields": "/".join(given)},
            )
        return {key: value for key, value in data.items() if key not in NORMALISATION_FIELDS}


class NoAugmentationSpec(ViewOptions):
    type: Literal["none"] = "none"


class RandAugmentSpec(ViewOptions):
    type: Literal["randaugment"] = "randaugment"
    num_ops: int = Field(2, ge=0, description="RandAugment operations applied to each image")
    magnitude: int = Field(14, ge=0, le=MAGNITUDE_BINS - 1, description="RandAugment strength on the 0..30 scale "
                           "(reference: 14)")
    hflip: bool = Field(True, description="random horizontal flip after the crop")
