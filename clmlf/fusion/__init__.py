"""TE_I (image Transformer encoder) and TE_M (fusion Transformer encoder over [text; image])."""

from clmlf.fusion.fusion_encoder import FusionEncoder
from clmlf.fusion.image_transformer import ImageTransformerEncoder
from clmlf.fusion.layers import TransformerLayer, TransformerStack

__all__ = ["FusionEncoder", "ImageTransformerEncoder", "TransformerLayer", "TransformerStack"]
