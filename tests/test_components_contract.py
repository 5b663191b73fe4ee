"""One contract test over every registered component, plugins included (timm's test_models.py style): each is
checked by :func:`clmlf.testing.check_component` on the tiny configuration its spec declares (``example()``)."""

from __future__ import annotations

import pytest

from clmlf.registry import registry
from clmlf.testing import check_component, write_posts
from conftest import REPO, has_real_data

REGISTERED = [(kind, name) for kind in registry().kinds() for name in registry().names(kind)]


@pytest.mark.parametrize(("kind", "name"), REGISTERED, ids=[f"{kind}-{name}" for kind, name in REGISTERED])
def test_component_contract(kind, name, tmp_path):
    fields = {"type": name, **registry().entry(kind, name).spec.example()}
    if (kind, name) == ("dataset", "jsonl"):
        fields["root"] = str(write_posts(tmp_path / "posts"))
    elif kind == "dataset" and not has_real_data():
        pytest.skip("real data (CLMLF_DATA_DIR) absent")
    check_component(kind, fields, workdir=tmp_path)


def test_the_tiny_model_is_the_tiny_config():
    import clmlf
    from clmlf.spec import ModelSpec
    from clmlf.testing.tiny import TINY_MODEL

    assert ModelSpec.model_validate(TINY_MODEL) == clmlf.load_spec(REPO / "configs" / "tiny.yaml").model
