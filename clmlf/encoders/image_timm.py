"""Image encoder on any timm backbone, via its last feature map."""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor, nn

from clmlf.encoders.image_tokens import ImageDataConfig, ImageTokenEncoder, ImageTokenOptions


class TimmFeatures(nn.Module):
    """timm model -> ``forward_features`` (B, C, h, w) for CNNs, (B, N, C) for ViTs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: Tensor) -> Tensor:
        return self.model.forward_features(pixel_values)


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


def timm_image_encoder_from_model(model: nn.Module, **options) -> ImageTokenEncoder:
    """Wrap an already-built timm model (classifier removed) as an :class:`ImageTokenEncoder`."""
    model.reset_classifier(0, "")
    return ImageTokenEncoder(TimmFeatures(model), model.num_features, timm_data_config(model), **options)


class TimmImageEncoderSpec(ImageTokenOptions):
    type: Literal["timm"] = "timm"
    model_name: str = "resnet50"
    checkpoint_path: str | None = None

    @classmethod
    def example(cls) -> dict[str, Any]:
        return {"model_name": "test_efficientnet", "pretrained": False}


def timm_image_encoder(
    model_name: str = "resnet50", pretrained: bool = True, checkpoint_path: str | None = None, **options
) -> ImageTokenEncoder:
    """Any ``timm.create_model`` name; ``options`` are :class:`ImageTokenEncoder`'s (d_model, token_layout, ...).

    ``pretrained`` needs the weights cached or reachable; ``checkpoint_path`` loads a local file instead.
    """
    import timm

    model = timm.create_model(model_name, pretrained=pretrained and checkpoint_path is None, checkpoint_path=checkpoint_path)
    return timm_image_encoder_from_model(model, **options)
