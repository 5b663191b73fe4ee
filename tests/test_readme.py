"""The README's Python examples run as written (tiny configs, random weights, in a scratch folder)."""

from __future__ import annotations

import re

import pytest
import torch

from conftest import REPO

BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
STAND_INS = {  # names the component example leaves to the reader: (B, Lt, D) text states, (B, Lt) mask, (B, Li, D) image
    "text_hidden": torch.randn(2, 7, 384), "text_mask": torch.ones(2, 7, dtype=torch.bool), "image_hidden": torch.randn(2, 10, 384),
}


def test_the_readme_has_its_examples():
    assert len(BLOCKS) == 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = BLOCKS[index].replace('"configs/', f'"{REPO}/configs/')
    namespace = {"__name__": f"readme_example_{index}", **STAND_INS}
    exec(compile(source, f"README.md python block {index + 1}", "exec"), namespace)  # noqa: S102
    if "pooled" in namespace:
        assert namespace["pooled"].shape[0] == 2
    if "BagOfWords" in namespace:  # the plugin example: its encoder runs and gives the documented output
        out = namespace["BagOfWords"](vocab_size=50, d_model=8)(torch.randint(0, 50, (2, 5)), torch.ones(2, 5))
        assert out.hidden.shape == (2, 5, 8) and out.pooled.shape == (2, 8)


@pytest.mark.parametrize("config", sorted(path.name for path in (REPO / "configs").glob("*.yaml")))
def test_every_preset_validates(config):
    import clmlf

    assert clmlf.load_spec(REPO / "configs" / config).name == config.removesuffix(".yaml")
