"""Poolers (attention, cls, mean), the classifier and the contrastive projection heads."""

from clmlf.heads.classifier import MLPClassifier
from clmlf.heads.pooling_attention import AttentionPooling
from clmlf.heads.pooling_cls import CLSPooling
from clmlf.heads.pooling_mean import MeanPooling
from clmlf.heads.projection import MLPProjection

__all__ = ["AttentionPooling", "CLSPooling", "MLPClassifier", "MLPProjection", "MeanPooling"]
