"""Image encoder on any timm backbone, via its last feature map."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from torch import Tensor, nn

from clmlf.encoders.image_tokens import ImageDataConfig, ImageTokenEncoder, ImageTokenOptions


class TimmFeatures(nn.Module):
    """timm model -> ``forward_features`` (B, C, h, w) for CNNs, (B, P + N, C) for ViTs (P prefix tokens).

    Models whose maps come out channels-last (timm's ``output_fmt`` "NHWC": Swin, MambaOut, ...) give (B, h, w, C),
    permuted here to (B, C, h, w)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        output_fmt = getattr(model, "output_fmt", "NCHW")
        self.channels_last_maps = getattr(output_fmt, "value", output_fmt) == "NHWC"

    def forward(self, pixel_values: Tensor) -> Tensor:
        features = self.model.forward_features(pixel_values)
        return features.permute(0, 3, 1, 2) if self.channels_last_maps and features.dim() == 4 else features


def timm_data_config(model: nn.Module) -> ImageDataConfig:
    """The normalisation/resize policy timm records for ``model``."""
    from timm.data import resolve_data_config

    config = resolve_data_config({}, model=model)
    return ImageDataConfig(
        input_size=tuple(config["input_size"]),
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
        crop_pct=float(config.get("crop_pct", 0.875)),
        interpolation=str(config.get("interpolation", "bilinear")),
    )


def fixed_image_size(model: nn.Module) -> int | None:
    """The only image side a timm model takes: a ViT's patch embedding checks ``img_size`` strictly unless built
    with ``dynamic_img_size``; None for models that take any size (CNNs)."""
    patch_embed = getattr(model, "patch_embed", None)
    if not getattr(patch_embed, "strict_img_size", False) or getattr(model, "dynamic_img_size", False):
        return None
    return int(patch_embed.img_size[0])


def timm_image_encoder_from_model(model: nn.Module, **options) -> ImageTokenEncoder:
    """Wrap an already-built timm model (classifier removed) as an :class:`ImageTokenEncoder`; a ViT's prefix
    tokens (``num_prefix_tokens``, the first of them its class token when ``has_class_token``) and fixed image size
    are passed on."""
    model.reset_classifier(0, "")
    vit = {"prefix_tokens": int(getattr(model, "num_prefix_tokens", 0) or 0),
           "class_token": bool(getattr(model, "has_class_token", False)), "fixed_size": fixed_image_size(model)}
    return ImageTokenEncoder(TimmFeatures(model), model.num_features, timm_data_config(model), **vit, **options)


class TimmImageEncoderSpec(ImageTokenOptions):
    type: Literal["timm"] = "timm"
    model_name: str = Field("resnet50", description="a timm.create_model name (timm.list_models() lists them), e.g. "
                            "resnet50, convnext_tiny, vit_base_patch16_clip_224")
    checkpoint_path: str | None = Field(None, description="a local weights file loaded instead of timm's pretrained "
                                        "weights (not needed to reload a saved CLMLF: its weights hold them)")
    model_kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of timm.create_model, "
                                         "e.g. {img_size: 64, dynamic_img_size: true, drop_path_rate: 0.1}")

    @classmethod
    def example(cls) -> dict[str, Any]:
        return {"model_name": "test_efficientnet", "pretrained": False}


def timm_image_encoder(
    model_name: str = "resnet50", pretrained: bool = True, checkpoint_path: str | None = None,
    model_kwargs: dict[str, Any] | None = None, **options
) -> ImageTokenEncoder:
    """Any ``timm.create_model`` name, built with ``model_kwargs``; ``options`` are :class:`ImageTokenEncoder`'s
    (d_model, token_layout, ...). ``pretrained`` needs the weights cached or reachable; ``checkpoint_path`` loads a
    local file instead. Unknown names and arguments timm refuses are ValueErrors naming the field."""
    import timm

    if ":" not in model_name and not timm.is_model(model_name):  # hf-hub:/local-dir: names resolve in create_model
        close = timm.list_models(f"*{model_name.split('_')[0]}*")[:5]
        raise ValueError(f"model.image_encoder.model_name: timm has no model {model_name!r}"
                         + (f"; similar: {', '.join(close)}" if close else "; timm.list_models() lists them"))
    try:
        model = timm.create_model(model_name, pretrained=pretrained and checkpoint_path is None,
                                  checkpoint_path=checkpoint_path, **dict(model_kwargs or {}))
    except TypeError as error:
        raise ValueError(f"model.image_encoder.model_kwargs: timm's {model_name} refuses them ({error})") from None
    return timm_image_encoder_from_model(model, **options)

