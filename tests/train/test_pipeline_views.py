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


def test_a_resolved_spec_keeps_following_the_data_size(tiny_spec):
    """The augmentation's size stays None in the resolved spec, so overriding data.image_size later (evaluate --set,
    a sweep) moves both views."""
    assert tiny_spec.data.augmentation.image_size is None
    again = clmlf.load_spec(tiny_spec.model_dump(mode="json"), ["data.image_size=96"])
    assert again.data.image_size == 96 and again.data.augmentation.image_size is None


def test_run_configs_saved_with_the_old_default_size_still_load(tmp_path, tiny_spec):
    import json

    from clmlf.train.run_dir import RunDir

    saved = tiny_spec.model_dump(mode="json")
    saved["data"]["augmentation"]["image_size"] = 224  # what configs held before 2026-11-28 when the size was unset
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert RunDir(tmp_path).read_spec() == tiny_spec
