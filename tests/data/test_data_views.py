"""Image views: uint8 pixels of the right shape, independent random views, registered specs."""

from __future__ import annotations

import inspect

import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from clmlf.data.views import NoAugmentationSpec, RandAugmentSpec, ToPixels, TwoViews, eval_transform, train_transform
from clmlf.registry import REGISTRY


@pytest.fixture
def photo() -> Image.Image:
    return Image.effect_noise((300, 200), 60).convert("RGB")


def test_eval_view_shape_dtype_and_determinism(photo):
    view = eval_transform()
    first = view(photo)
    assert first.shape == (3, 224, 224) and first.dtype == torch.uint8 and first.is_contiguous()
    assert torch.equal(first, view(photo))


def test_eval_view_keeps_pixel_values_and_uses_given_sizes():
    flat = Image.new("RGB", (50, 80), (128, 64, 32))
    out = eval_transform(image_size=32, crop_pct=1.0, interpolation="bicubic")(flat)
    assert out.shape == (3, 32, 32) and out.dtype == torch.uint8
    assert torch.equal(out, torch.tensor([128, 64, 32], dtype=torch.uint8).view(3, 1, 1).expand(3, 32, 32))
    assert eval_transform(image_size=16)(Image.new("RGB", (1, 1))).shape == (3, 16, 16)
    with pytest.raises(ValueError, match="crop_pct"):
        eval_transform(crop_pct=0.0)


def test_pixels_match_torchvision_and_are_contiguous(photo):
    out = ToPixels()(photo)
    assert out.shape == (3, 200, 300) and out.dtype == torch.uint8 and out.is_contiguous()
    assert torch.equal(out, v2.ToImage()(photo))
    assert repr(ToPixels()) == "ToPixels()", "feature caches are keyed on the view's repr: it must be stable"


def test_train_views_are_random_and_independent(photo):
    torch.manual_seed(0)
    view, view_prime = TwoViews(train_transform(image_size=64))(photo)
    assert view.shape == view_prime.shape == (3, 64, 64) and view.dtype == view_prime.dtype == torch.uint8
    assert not torch.equal(view, view_prime)
    fixed = eval_transform(image_size=64)
    first, _ = TwoViews(fixed, second=train_transform(image_size=64))(photo)
    assert torch.equal(first, fixed(photo))
    with pytest.raises(ValueError, match=r"magnitude must lie in 0\.\.30"):
        train_transform(magnitude=31)


def test_registered_augmentations_mirror_specs():
    for name in ("none", "randaugment"):
        entry = REGISTRY.entry("augmentation", name)
        assert set(inspect.signature(entry.component).parameters) == set(entry.spec.model_fields) - {"type"}
    spec = RandAugmentSpec()
    assert (spec.num_ops, spec.magnitude, spec.image_size, spec.hflip) == (2, 14, None, True)  # None: data.image_size
    transform = REGISTRY.entry("augmentation", "randaugment").component(**spec.kwargs())
    assert transform(Image.new("RGB", (10, 10))).shape == (3, 224, 224), "built alone: 224"


def test_view_specs_drop_the_null_normalisation_of_old_run_configs_and_refuse_values():
    old = {"type": "randaugment", "num_ops": 2, "magnitude": 14, "image_size": 224, "hflip": True, "crop_pct": None,
           "mean": None, "std": None, "interpolation": None}  # a config.json written when views normalised
    assert RandAugmentSpec.model_validate(old) == RandAugmentSpec(image_size=224)
    with pytest.raises(ValueError, match="mean/std: views give uint8 pixels and the image encoder normalises"):
        NoAugmentationSpec.model_validate({"type": "none", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]})
