"""Importing this module registers every built-in component (imported lazily by the registry)."""

from clmlf.data import formatters, jsonl_dataset, readers, views  # noqa: F401
from clmlf.encoders import image_offline, image_resnet, image_timm, text_hf, text_offline  # noqa: F401
from clmlf.fusion import fusion_encoder, image_transformer, late  # noqa: F401
from clmlf.heads import classifier, pooling_attention, pooling_cls, pooling_mean, projection  # noqa: F401
from clmlf.losses import modules  # noqa: F401
