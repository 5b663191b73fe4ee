"""torchvision ResNet image encoder (the paper's ResNet-50), 7x7x2048 map at 224 px."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from torch import nn

from clmlf.checks import check_choice
from clmlf.encoders.image_tokens import ImageDataConfig, ImageTokenEncoder, ImageTokenOptions

DEPTHS = (18, 34, 50, 101, 152)


class TorchvisionResNetSpec(ImageTokenOptions):
    type: Literal["torchvision_resnet"] = "torchvision_resnet"
    depth: Literal[18, 34, 50, 101, 152] = Field(50, description="the ResNet's depth (the paper: 50)")
    weights_path: str | None = Field(None, description="a local state dict (.safetensors or .pth) instead of "
                                     "torchvision's IMAGENET1K_V1 weights (not needed to reload a saved CLMLF)")

    @classmethod
    def example(cls) -> dict[str, Any]:
        return {"depth": 18, "pretrained": False}


def load_local_state_dict(path: str) -> dict:
    """A state dict from ``.safetensors`` or a ``.pth`` loaded with ``weights_only=True`` (never unpickles code)."""
    import torch

    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    return torch.load(path, map_location="cpu", weights_only=True)


def torchvision_resnet_encoder(
    depth: int = 50, pretrained: bool = True, weights_path: str | None = None, **options
) -> ImageTokenEncoder:
    """ResNet-``depth`` without avgpool/fc; ``pretrained`` takes torchvision's IMAGENET1K_V1 weights (the
    reference code's), from the torch cache or the network, or ``weights_path`` (a local state dict)."""
    import torchvision

    check_choice("depth", depth, DEPTHS)
    builder = getattr(torchvision.models, f"resnet{depth}")
    weights = "IMAGENET1K_V1" if pretrained and weights_path is None else None
    resnet = builder(weights=weights)
    if weights_path is not None:
        resnet.load_state_dict(load_local_state_dict(weights_path))
    backbone = nn.Sequential(*list(resnet.children())[:-2])
    return ImageTokenEncoder(backbone, resnet.fc.in_features, ImageDataConfig(crop_pct=224 / 256), **options)
