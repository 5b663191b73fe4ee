"""TE_I (image Transformer encoder), TE_M (fusion Transformer encoder over [text; image]) and the late-fusion baseline."""

from clmlf.fusion.fusion_encoder import FusionEncoder
from clmlf.fusion.image_transformer import ImageTransformerEncoder
from clmlf.fusion.late import LateFusion
from clmlf.fusion.layers import TransformerLayer, TransformerStack

__all__ = ["FusionEncoder", "ImageTransformerEncoder", "LateFusion", "TransformerLayer", "TransformerStack"]
