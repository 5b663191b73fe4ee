"""timm and torchvision image encoders: constructor arguments, ViT prefix tokens, pooled patch grids, fixed sizes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from clmlf.encoders.image_resnet import torchvision_resnet_encoder
from clmlf.encoders.image_timm import timm_image_encoder

PIXELS = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
TINY_CLIP = {"img_size": 64, "patch_size": 16, "embed_dim": 32, "depth": 1, "num_heads": 2}


def encode(encoder):
    with torch.no_grad():
        return encoder.eval()(PIXELS), encoder.features(PIXELS)


@pytest.mark.parametrize("name, kwargs", [("test_vit", {}), ("vit_base_patch16_clip_224", TINY_CLIP)])
def test_class_token_is_the_global_token_and_never_an_image_token(name, kwargs):
    encoder = timm_image_encoder(name, pretrained=False, d_model=16, model_kwargs=kwargs)
    output, features = encode(encoder)
    assert (encoder.prefix_tokens, encoder.class_token) == (1, True)
    assert features.shape[1] == 1 + 16 and output.hidden.shape == (2, 1 + 16, 16)  # global + the 4 x 4 patch grid
    torch.testing.assert_close(output.pooled, encoder.project_global(features[:, 0]))
    torch.testing.assert_close(output.hidden[:, 1:], encoder.project(features[:, 1:]))


def test_register_tokens_are_dropped_and_the_patches_averaged():
    encoder = timm_image_encoder("test_vit2", pretrained=False, d_model=16)  # one register token, no class token
    output, features = encode(encoder)
    assert (encoder.prefix_tokens, encoder.class_token) == (1, False)
    torch.testing.assert_close(output.pooled, encoder.project_global(features[:, 1:].mean(dim=1)))
    assert output.hidden.shape[1] == 1 + 16


def test_pool_size_pools_the_vit_patch_grid():
    encoder = timm_image_encoder("test_vit", pretrained=False, d_model=16, pool_size=2)
    output, features = encode(encoder)
    grid = features[:, 1:].transpose(1, 2).reshape(2, -1, 4, 4)
    expected = nn.functional.adaptive_avg_pool2d(grid, 2).flatten(2).transpose(1, 2)
    torch.testing.assert_close(output.hidden[:, 1:], encoder.project(expected))


def test_fixed_size_vit_is_refused_with_both_fixes_and_model_kwargs_fix_it():
    encoder = timm_image_encoder("test_vit3", pretrained=False, d_model=16)
    assert encoder.fixed_size == 160
    with pytest.raises(ValueError, match=r"takes 160 px images only, got \(64, 64\); set data.image_size: 160, or .*"
                                         r"model_kwargs: \{img_size: 64, dynamic_img_size: true\}"):
        encode(encoder)
    resized = timm_image_encoder("test_vit3", pretrained=False, d_model=16, model_kwargs={"img_size": 64})
    assert encode(resized)[0].hidden.shape == (2, 17, 16)
    dynamic = timm_image_encoder("test_vit3", pretrained=False, d_model=16, model_kwargs={"dynamic_img_size": True})
    assert dynamic.fixed_size is None and encode(dynamic)[0].hidden.shape == (2, 17, 16)


def test_channels_last_maps_give_one_token_per_position():
    """MambaOut (like Swin) returns its map as (B, h, w, C): each token is one position's C channels."""
    encoder = timm_image_encoder("test_mambaout", pretrained=False, d_model=16)
    output, features = encode(encoder)
    with torch.no_grad():
        nhwc = encoder.backbone.model.forward_features(encoder.normalise(PIXELS))
    assert nhwc.shape[-1] == encoder.backbone.model.num_features and features.shape[1] == nhwc.shape[-1]
    torch.testing.assert_close(output.hidden[:, 1:], encoder.project(nhwc.flatten(1, 2)))


@pytest.mark.parametrize("builder", [lambda **o: timm_image_encoder("test_convnext", pretrained=False, **o),
                                     lambda **o: torchvision_resnet_encoder(18, pretrained=False, **o)])
def test_cnn_maps_pool_to_the_grid(builder):
    encoder = builder(d_model=16, pool_size=1)
    output, features = encode(encoder)
    assert encoder.prefix_tokens == 0 and encoder.fixed_size is None
    assert output.hidden.shape == (2, 2, 16)  # global token + one pooled position
    torch.testing.assert_close(output.hidden[:, 1], encoder.project(features.mean(dim=(2, 3))))


def test_model_kwargs_reach_timm_and_unknown_ones_name_the_field():
    assert timm_image_encoder("test_vit", pretrained=False, model_kwargs={"embed_dim": 48, "num_heads": 2}).num_features == 48
    with pytest.raises(ValueError, match="model.image_encoder.model_kwargs: timm's test_resnet refuses them"):
        timm_image_encoder("test_resnet", pretrained=False, model_kwargs={"img_sise": 64})
    with pytest.raises(ValueError, match="model.image_encoder.model_name: timm has no model 'vit_tiny_patch16'"):
        timm_image_encoder("vit_tiny_patch16", pretrained=False)
