"""The training view follows ``data.image_size``; an augmentation may repeat that size, not differ from it."""

from __future__ import annotations

import pytest
from PIL import Image

import clmlf
from clmlf.spec import read_yaml
from clmlf.train.pipeline import augmentation_transform
from conftest import TINY_CONFIG


def test_augmentation_image_size_follows_the_data_section(tiny_model):
    config = read_yaml(TINY_CONFIG)
    photo = Image.new("RGB", (90, 70), "tan")
    for augmentation in ({"type": "randaugment"}, {"type": "randaugment", "image_size": 48}):
        config["data"] = {**config["data"], "image_size": 48, "augmentation": augmentation}
        assert augmentation_transform(tiny_model, clmlf.load_spec(config).data)(photo).shape == (3, 48, 48)
    config["data"]["augmentation"] = {"type": "randaugment", "image_size": 40}
    with pytest.raises(clmlf.SpecError, match="data.augmentation.image_size: 40 differs from data.image_size 48"):
        clmlf.load_spec(config)
