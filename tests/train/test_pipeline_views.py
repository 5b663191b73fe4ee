"""The training view follows ``data.image_size`` unless the augmentation sets its own (both views then match)."""

from __future__ import annotations

from PIL import Image

import clmlf
from clmlf.spec import read_yaml
from clmlf.train.pipeline import augmentation_transform
from conftest import TINY_CONFIG


def test_augmentation_image_size_follows_the_data_section_unless_set(tiny_model):
    config = read_yaml(TINY_CONFIG)
    config["data"] = {**config["data"], "image_size": 48, "augmentation": {"type": "randaugment"}}
    photo = Image.new("RGB", (90, 70), "tan")
    assert augmentation_transform(tiny_model, clmlf.load_spec(config).data)(photo).shape == (3, 48, 48)
    config["data"]["augmentation"] = {"type": "randaugment", "image_size": 40}
    assert augmentation_transform(tiny_model, clmlf.load_spec(config).data)(photo).shape == (3, 40, 40)
