"""Turn a CNN/ViT backbone's feature map into projected image tokens (paper Eq. 1)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from clmlf.checks import check_choice, check_image_features, check_pixels, pixel_expectations
from clmlf.encoders.projection import TokenProjection, freeze_module, token_projection
from clmlf.outputs import EncoderOutput
from clmlf.spec import ComponentSpec

TokenLayout = Literal["spatial", "legacy_view"]
LOCAL_WEIGHTS = ("checkpoint_path", "weights_path")
"""Spec fields of image encoders that name a local weights file."""


@dataclass(frozen=True)
class ImageDataConfig:
    """What the backbone expects: ``input_size`` (C, H, W), normalisation, resize policy."""

    input_size: tuple[int, int, int] = (3, 224, 224)
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    crop_pct: float = 0.875
    interpolation: str = "bilinear"


class ImageTokenOptions(ComponentSpec):
    """Options shared by every image encoder spec (``d_model: None`` is filled from ``model.d_model``)."""

    d_model: int | None = Field(None, description="width of the projected tokens; null: model.d_model")
    token_layout: TokenLayout = Field("spatial", description="spatial: one token per map position; legacy_view: the "
                                      "reference code's view(B, -1, C), kept for faithful reproduction")
    global_token: bool = Field(True, description="prepend a projected global vector: the pooled map, or a ViT's class token")
    freeze: bool = Field(True, description="no gradients into the backbone")
    bn_eval_when_frozen: bool = Field(True, description="keep the frozen backbone's BatchNorm statistics fixed (false: "
                                      "they drift in train mode, as in the reference code)")
    projection: TokenProjection = Field("linear_gelu", description="how each token reaches d_model: linear_gelu (reference code), linear or none")
    pretrained: bool = Field(True, description="load the pretrained weights; false builds random weights")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on the image tokens")
    pool_size: int | None = Field(None, ge=1, description="average-pool the map (a ViT's patch grid) to k x k positions "
                                  "first: fewer image tokens; null: all positions")
    channels_last: bool = Field(True, description="run the backbone's convolutions in NHWC memory format (faster)")


def tokens_to_grid(tokens: Tensor) -> Tensor:
    """Patch tokens (B, N, C) of a square image -> their grid (B, C, s, s), s = sqrt(N); ValueError if N is no square."""
    side = math.isqrt(tokens.shape[1])
    if side * side != tokens.shape[1]:
        raise ValueError(f"model.image_encoder.pool_size: {tokens.shape[1]} patch tokens form no square grid; "
                         "leave pool_size unset for this backbone")
    return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], side, side)


def feature_map_to_tokens(features: Tensor, layout: TokenLayout) -> Tensor:
    """(B, C, h, w) -> (B, h*w, C). ``spatial``: one token per position (correct).
    ``legacy_view``: the reference code's ``view(B, -1, C)`` without moving channels, so each "token" mixes
    C/(h*w) channels over all positions (kept for faithful reproduction). (B, N, C) ViT tokens pass through."""
    if features.dim() == 3:
        return features
    batch, channels = features.shape[:2]
    if layout == "legacy_view":
        return features.reshape(batch, -1, channels)
    return features.flatten(2).transpose(1, 2)


class ImageTokenEncoder(nn.Module):
    """Backbone -> feature map (B, C, h, w) or ViT tokens (B, P + N, C) -> tokens (B, h*w or N [+1], d_model), mask
    all True.

    With ``global_token`` a separately projected global vector is prepended (reference code): the average-pooled
    map, or for a ViT its class token (``class_token``), else the mean of its patch tokens. A ViT's ``prefix_tokens``
    P (class and register tokens, timm's ``num_prefix_tokens``) never become image tokens: the image tokens are the
    N patch tokens, a square grid.
    ``freeze`` stops backbone gradients; ``bn_eval_when_frozen`` keeps its BatchNorm statistics fixed
    (the reference code lets them drift in train mode: ``bn_eval_when_frozen=False`` reproduces that).
    ``pool_size=k`` average-pools the map (a ViT's patch grid) to k x k positions first (fewer tokens, cheaper fusion;
    None: all). ``fixed_size``: the only image side the backbone takes (a ViT built without ``dynamic_img_size``);
    other sizes are refused before the backbone runs, naming both fixes.
    ``channels_last`` runs the backbone's convolutions in NHWC (about 1.6x faster on CPU, tensor cores on GPU).
    ``pixel_values`` are uint8 pixels, normalised here with ``data_config``'s mean/std (non-persistent buffers:
    not in the state dict), or floats already normalised (passed through).
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_features: int,
        data_config: ImageDataConfig,
        d_model: int = 768,
        token_layout: TokenLayout = "spatial",
        global_token: bool = True,
        freeze: bool = True,
        bn_eval_when_frozen: bool = True,
        projection: TokenProjection = "linear_gelu",
        dropout: float = 0.0,
        pool_size: int | None = None,
        channels_last: bool = True,
        prefix_tokens: int = 0,
        class_token: bool = False,
        fixed_size: int | None = None,
    ) -> None:
        super().__init__()
        check_choice("token_layout", token_layout, TokenLayout)
        self.backbone = backbone
        self.num_features = num_features
        self.data_config = data_config
        self.d_model = d_model
        self.token_layout = token_layout
        self.frozen = freeze
        self.bn_eval_when_frozen = bn_eval_when_frozen
        self.project = token_projection(num_features, d_model, projection)
        self.project_global = token_projection(num_features, d_model, projection) if global_token else None
        self.dropout = nn.Dropout(dropout)
        self.pool = nn.AdaptiveAvgPool2d(pool_size) if pool_size else nn.Identity()
        self.prefix_tokens = prefix_tokens
        self.class_token = class_token
        self.fixed_size = fixed_size
        if freeze:
            freeze_module(backbone)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        backbone.to(memory_format=self.memory_format)
        self.register_buffer("pixel_mean", torch.tensor(data_config.mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(data_config.std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def save_assets(self, folder, spec: ComponentSpec) -> dict[str, None]:
        """A saved CLMLF holds the backbone's weights: the local weight files ``spec`` names (timm's
        ``checkpoint_path``, torchvision's ``weights_path``) are not needed to rebuild it and are cleared."""
        return {field: None for field in LOCAL_WEIGHTS if getattr(spec, field, None) is not None}

    def train(self, mode: bool = True) -> ImageTokenEncoder:
        super().train(mode)
        if self.frozen and self.bn_eval_when_frozen:
            self.backbone.eval()
        return self

    def normalise(self, pixel_values: Tensor) -> Tensor:
        """uint8 (B, 3, H, W) -> ``(x / 255 - mean) / std`` (B, 3, H, W) in the backbone's memory format, one copy, in
        the buffers' dtype (float32, even under autocast, unless the module was cast); float pixels are taken as
        normalised already and only change memory format."""
        check_pixels(pixel_values, *pixel_expectations(self))
        if self.fixed_size is not None and tuple(pixel_values.shape[-2:]) != (self.fixed_size,) * 2:
            size = pixel_values.shape[-1]
            raise ValueError(f"model.image_encoder: the backbone takes {self.fixed_size} px images only, got "
                             f"{tuple(pixel_values.shape[-2:])}; set data.image_size: {self.fixed_size}, or build the ViT for "
                             f"{size} px with model.image_encoder.model_kwargs: {{img_size: {size}, dynamic_img_size: true}}")
        if pixel_values.dtype != torch.uint8:
            return pixel_values.contiguous(memory_format=self.memory_format)
        pixels = pixel_values.to(self.pixel_mean.dtype, memory_format=self.memory_format)
        return pixels.mul_(1 / 255).sub_(self.pixel_mean).div_(self.pixel_std)

    def features(self, pixel_values: Tensor) -> Tensor:
        """(B, 3, H, W) uint8 or normalised float -> backbone feature map (B, C, h, w) (or (B, N, C) tokens).
        No grad when frozen."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            return self.backbone(self.normalise(pixel_values))

    def tokens(self, features: Tensor) -> EncoderOutput:
        """Feature map (B, C, h, w) or ViT tokens (B, P + N, C) (cached or fresh) -> projected tokens (B, Li, d_model),
        mask (B, Li), pooled (B, d_model)."""
        features = check_image_features(features).to(self.project_dtype)
        patches = features[:, self.prefix_tokens:] if features.dim() == 3 else None
        if patches is None:
            grid = self.pool(features)
        else:
            grid = self.pool(tokens_to_grid(patches)) if isinstance(self.pool, nn.AdaptiveAvgPool2d) else patches
        hidden = self.project(feature_map_to_tokens(grid, self.token_layout))
        # the global vector after the tokens: the op order trained runs of earlier releases used (bit-identical runs)
        if patches is None:
            pooled_raw = features.mean(dim=(2, 3))
        else:
            pooled_raw = features[:, 0] if self.class_token else patches.mean(dim=1)
        pooled = hidden.mean(dim=1)
        if self.project_global is not None:
            pooled = self.project_global(pooled_raw)
            hidden = torch.cat([pooled.unsqueeze(1), hidden], dim=1)
        hidden = self.dropout(hidden)
        mask = torch.ones(hidden.shape[:2], dtype=torch.bool, device=hidden.device)
        return EncoderOutput(hidden, mask, pooled)

    @property
    def project_dtype(self) -> torch.dtype:
        return next(self.project.parameters()).dtype

    def forward(self, pixel_values: Tensor) -> EncoderOutput:
        """pixel_values (B, 3, H, W), uint8 or normalised float -> tokens (B, Li, d_model), mask (B, Li), pooled (B, d_model)."""
        return self.tokens(self.features(pixel_values))
