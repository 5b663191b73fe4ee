"""Image views: shapes, dtypes, normalisation, independent random views, registered specs."""

from __future__ import annotations

import inspect

import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from clmlf.data.views import RandAugmentSpec, ToNormalisedTensor, TwoViews, eval_transform, train_transform
from clmlf.registry import REGISTRY


@pytest.fixture
def photo() -> Image.Image:
    return Image.effect_noise((300, 200), 60).convert("RGB")


def test_eval_view_shape_dtype_and_determinism(photo):
    view = eval_transform()
    first = view(photo)
    assert first.shape == (3, 224, 224) and first.dtype == torch.float32
    torch.testing.assert_close(first, view(photo))


def test_eval_view_uses_given_stats_and_sizes():
    gray = Image.new("RGB", (50, 80), (128, 128, 128))
    out = eval_transform(image_size=32, crop_pct=1.0, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), interpolation="bicubic")(gray)
    assert out.shape == (3, 32, 32)
    torch.testing.assert_close(out, torch.full_like(out, 128 / 255 * 2 - 1))
    assert eval_transform(image_size=16)(Image.new("RGB", (1, 1))).shape == (3, 16, 16)
    with pytest.raises(ValueError, match="crop_pct"):
        eval_transform(crop_pct=0.0)


def test_normalised_tensor_matches_torchvision_bit_for_bit(photo):
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    reference = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))])
    out = ToNormalisedTensor(mean, std)(photo)
    assert out.shape == (3, 200, 300) and out.is_contiguous()
    assert torch.equal(out, reference(photo))
    with pytest.raises(ValueError, match="non-zero"):
        ToNormalisedTensor(mean, (0.5, 0.0, 0.5))


def test_train_views_are_random_and_independent(photo):
    torch.manual_seed(0)
    view, view_prime = TwoViews(train_transform(image_size=64))(photo)
    assert view.shape == view_prime.shape == (3, 64, 64) and view.dtype == torch.float32
    assert not torch.equal(view, view_prime)
    fixed = eval_transform(image_size=64)
    first, _ = TwoViews(fixed, second=train_transform(image_size=64))(photo)
    torch.testing.assert_close(first, fixed(photo))
    with pytest.raises(ValueError, match=r"magnitude must lie in 0\.\.30"):
        train_transform(magnitude=31)


def test_registered_augmentations_mirror_specs():
    for name in ("none", "randaugment"):
        entry = REGISTRY.entry("augmentation", name)
        assert set(inspect.signature(entry.component).parameters) == set(entry.spec.model_fields) - {"type"}
    spec = RandAugmentSpec()
    assert (spec.num_ops, spec.magnitude, spec.image_size, spec.hflip) == (2, 14, 224, True)
    transform = REGISTRY.entry("augmentation", "randaugment").component(**spec.kwargs())
    assert transform(Image.new("RGB", (10, 10))).shape == (3, 224, 224)
