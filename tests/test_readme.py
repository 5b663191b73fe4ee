"""The README's Python examples run as written (tiny configs, random weights, in a scratch folder); its plugin
blocks, which name a file of examples/plugin on their first line, are verbatim excerpts of those files (the files
themselves are tested by tests/test_plugins.py)."""

from __future__ import annotations

import re

import pytest
import torch

from clmlf.presets import preset_files
from conftest import REPO

PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
EXCERPTS = {block.partition("\n")[0].removeprefix("# "): block.partition("\n")[2]
            for block in re.findall(r"```(?:python|toml)\n(# examples/plugin/.*?)```", (REPO / "README.md").read_text(), flags=re.S)}
BLOCKS = [block for block in PYTHON_BLOCKS if not block.startswith("# examples/plugin/")]
STAND_INS = {  # names the component example leaves to the reader: (B, Lt, D) text states, (B, Lt) mask, (B, Li, D) image
    "text_hidden": torch.randn(2, 7, 384), "text_mask": torch.ones(2, 7, dtype=torch.bool), "image_hidden": torch.randn(2, 10, 384),
}


def test_the_readme_has_its_examples():
    assert len(BLOCKS) == 2
    assert sorted(EXCERPTS) == ["examples/plugin/clmlf_example_plugin/loss.py", "examples/plugin/clmlf_example_plugin/plugin.py",
                                "examples/plugin/clmlf_example_plugin/text.py", "examples/plugin/pyproject.toml",
                                "examples/plugin/tests/test_contract.py"]


@pytest.mark.parametrize("path", sorted(EXCERPTS))
def test_readme_plugin_code_is_the_example_package(path):
    assert EXCERPTS[path] in (REPO / path).read_text(), f"README's block of {path} differs from the file: copy it again"


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"readme_example_{index}", **STAND_INS}
    exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), namespace)  # noqa: S102
    if "pooled" in namespace:
        assert namespace["pooled"].shape[0] == 2


@pytest.mark.parametrize("name", list(preset_files()))
def test_every_preset_validates_by_name(name):
    import clmlf

    assert clmlf.load_spec(name).name == name
