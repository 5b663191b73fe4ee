"""Text and image encoders producing token-level states (``EncoderOutput``)."""

from clmlf.encoders.image_offline import efficientnet_lite0_encoder
from clmlf.encoders.image_resnet import torchvision_resnet_encoder
from clmlf.encoders.image_timm import timm_image_encoder
from clmlf.encoders.image_tokens import ImageDataConfig, ImageTokenEncoder
from clmlf.encoders.text_hf import HFTextEncoder
from clmlf.encoders.text_offline import minilm_text_encoder

__all__ = [
    "HFTextEncoder", "ImageDataConfig", "ImageTokenEncoder", "efficientnet_lite0_encoder",
    "minilm_text_encoder", "timm_image_encoder", "torchvision_resnet_encoder",
]
