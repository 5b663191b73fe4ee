"""The plugin's own contract test: every component it registers passes clmlf's checks, two training steps included."""

import pytest

from clmlf.registry import registry
from clmlf.testing import check_component
from clmlf_example_plugin.plugin import COMPONENTS


@pytest.mark.parametrize(("kind", "name"), sorted(COMPONENTS))
def test_component_contract(kind, name):
    check_component(kind, {"type": name, **registry().entry(kind, name).spec.example()}, train_steps=2)
