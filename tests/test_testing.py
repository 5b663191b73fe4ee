"""clmlf.testing.check_component on faulty components, registered through an in-process fake plugin
(:func:`clmlf.plugins.register_plugin`, the path a plugin's own tests take before the package is installed)."""

from __future__ import annotations

from typing import Literal

import pytest
import torch
from torch import nn

from clmlf import ComponentSpec, EncoderOutput, PoolerOutput, hookimpl
from clmlf.plugins import plugin_manager, register_plugin
from clmlf.registry import registry
from clmlf.testing import check_component
from conftest import REPO


class NarrowSpec(ComponentSpec):
    type: Literal["narrow"] = "narrow"
    d_model: int | None = None


class Narrow(nn.Module):
    """Ignores d_model: 16-d states whatever the model's width."""

    def __init__(self, d_model: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(100, 16)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        hidden = self.embed(input_ids)
        return EncoderOutput(hidden, attention_mask.bool(), hidden[:, 0])


class SloppySpec(ComponentSpec):
    type: Literal["sloppy"] = "sloppy"


class Sloppy(nn.Module):
    """Averages padding too, and owns a parameter it never uses."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.unused = nn.Linear(2, 2)

    def forward(self, hidden, mask):
        return PoolerOutput(hidden.mean(1) * self.scale)


class ForgetfulSpec(ComponentSpec):
    type: Literal["forgetful"] = "forgetful"
    d_model: int | None = None
    num_classes: int | None = None


class Forgetful(nn.Module):
    """Keeps its random offsets out of the state_dict: a reloaded copy predicts differently."""

    def __init__(self, d_model: int = 32, num_classes: int = 3) -> None:
        super().__init__()
        self.linear = nn.Linear(d_model, num_classes)
        self.register_buffer("offset", torch.randn(num_classes), persistent=False)

    def forward(self, pooled):
        return self.linear(pooled) + self.offset


class FaultyPlugin:
    @hookimpl
    def clmlf_register(self, registry):
        registry.add("text_encoder", "narrow", Narrow, NarrowSpec)
        registry.add("pooler", "sloppy", Sloppy, SloppySpec)
        registry.add("head", "forgetful", Forgetful, ForgetfulSpec)


@pytest.fixture
def fake_plugin(monkeypatch):
    """Registers :class:`FaultyPlugin` into the live registry; its entries are gone after the test."""
    live = registry()
    monkeypatch.setattr(live, "_entries", {kind: dict(entries) for kind, entries in live._entries.items()})
    plugin = FaultyPlugin()
    register_plugin(plugin, name="faulty")
    yield live
    plugin_manager().unregister(plugin)


def test_an_in_process_plugin_registers_through_the_hook(fake_plugin):
    assert "narrow" in fake_plugin.names("text_encoder") and fake_plugin.entry("pooler", "sloppy").component is Sloppy
    assert fake_plugin.entry("pooler", "attention").module == "clmlf.heads.pooling_attention", "built-ins stay"


def test_a_wrong_width_is_named_with_its_fix(fake_plugin):
    with pytest.raises(AssertionError) as error:
        check_component("text_encoder", {"type": "narrow"})
    assert str(error.value) == ("text_encoder 'narrow': hidden has shape (2, 7, 16), expected (2, 7, 32) = (B, L, d_model); "
                                "set d_model from the spec's d_model field")


def test_padding_that_leaks_into_the_output_is_caught(fake_plugin):
    with pytest.raises(AssertionError, match=r"^pooler 'sloppy': pooled changes when padding is added \(largest difference"):
        check_component("pooler", {"type": "sloppy"})


def test_a_parameter_without_gradient_is_named(fake_plugin, monkeypatch):
    monkeypatch.setattr(Sloppy, "forward", lambda self, hidden, mask: PoolerOutput(hidden[:, 0] * self.scale))
    with pytest.raises(AssertionError, match=r"^pooler 'sloppy': no gradient reaches unused.weight, unused.bias: "):
        check_component("pooler", {"type": "sloppy"})


def test_state_outside_the_state_dict_fails_the_round_trip(fake_plugin):
    with pytest.raises(AssertionError, match=r"^head 'forgetful': save_pretrained / from_pretrained changes the logits"):
        check_component("head", {"type": "forgetful"})


def test_a_spec_of_another_kind_is_refused():
    from clmlf.heads.pooling_cls import CLSPoolingSpec

    with pytest.raises(AssertionError, match="CLSPoolingSpec is a pooler spec, not a head spec"):
        check_component("head", CLSPoolingSpec())


def test_the_example_plugin_registers_in_process(fake_plugin, monkeypatch):
    """The example package's hook, run without installing it, gives components that pass their checks."""
    monkeypatch.syspath_prepend(str(REPO / "examples" / "plugin"))
    from clmlf_example_plugin import plugin

    register_plugin(plugin)
    try:
        encoder = check_component("text_encoder", {"type": "gru", "vocab_size": 300})
        assert type(encoder).__module__ == "clmlf_example_plugin.text"
        check_component("image_encoder", {"type": "small_cnn", "channels": 8})
        check_component("pooler", {"type": "max"})
        splits = check_component("dataset", {"type": "posts_csv", **fake_plugin.entry("dataset", "posts_csv").spec.example()})
        assert splits.info() == {"train": 12, "dev": 6, "test": 6, "classes": {"negative": 4, "neutral": 4, "positive": 4}}
    finally:
        plugin_manager().unregister(plugin)
