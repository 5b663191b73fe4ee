"""An image encoder that is not timm or torchvision: three strided convolutions -> a 4x4 grid of tokens."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from clmlf import ComponentSpec, EncoderOutput


class SmallCNNSpec(ComponentSpec):
    type: Literal["small_cnn"] = "small_cnn"
    channels: int = Field(32, ge=1)
    d_model: int | None = None  # filled from model.d_model


class SmallCNNEncoder(nn.Module):
    """uint8 pixels (B, 3, H, W) -> EncoderOutput(hidden (B, 16, d_model), mask (B, 16), pooled (B, d_model)).

    Pixels are scaled to [-1, 1] here (clmlf's loaders hand every image encoder uint8 pixels); three stride-2
    convolutions, then adaptive average pooling to 4x4 positions, each one token."""

    def __init__(self, channels: int = 32, d_model: int = 256) -> None:
        super().__init__()
        layers, width = [], 3
        for out in (channels, 2 * channels, d_model):
            layers += [nn.Conv2d(width, out, kernel_size=3, stride=2, padding=1), nn.GELU()]
            width = out
        self.convs = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4))

    def forward(self, pixel_values: Tensor) -> EncoderOutput:
        pixels = pixel_values.float() / 127.5 - 1.0 if pixel_values.dtype == torch.uint8 else pixel_values
        hidden = self.convs(pixels).flatten(2).transpose(1, 2)  # (B, 16, d_model)
        mask = torch.ones(hidden.shape[:2], dtype=torch.bool, device=hidden.device)
        return EncoderOutput(hidden, mask, hidden.mean(1))
