"""Component contracts (clmlf.contracts): required members fail as one named ContractError, optional capabilities
fall back as documented, and docs/components.md names every capability in its kind's section."""

from __future__ import annotations

import logging
import re

import pytest
import torch

import clmlf
from clmlf.checks import check_pixels, pixel_expectations
from clmlf.contracts import CONTRACTS, cache_possible, image_view_options, is_frozen, trainable_part
from clmlf.errors import ContractError
from clmlf.registry import KINDS
from clmlf.spec import TrainSpec
from clmlf.train.optim import parameter_groups, set_text_encoder_trainable
from clmlf.train.pipeline import text_tokenizer
from conftest import REPO
from plugin_parts import WordHashTokenizer, plugin_model_spec

DOCS = REPO / "docs" / "components.md"
pytestmark = pytest.mark.usefixtures("plugin_parts")


@pytest.fixture
def plugin_model(plugin_parts) -> clmlf.CLMLF:
    return clmlf.build_model(plugin_model_spec())


def batch(images: bool = True) -> dict:
    tokens = WordHashTokenizer(256)(["so happy today", "bad"], max_length=24)
    return {**tokens, **({"pixel_values": torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)} if images else {})}


def test_plugin_parts_run_through_the_model(plugin_model):
    output = plugin_model(**batch())
    assert output.logits.shape == (2, 3) and output.z.shape[0] == 2 and output.pooling_weights is None
    assert output.fused.shape == (2, 3 + 16, 32)  # 3 words, then the conv encoder's 4 x 4 grid


def test_a_text_encoder_without_tokenizer_is_one_contract_error():
    model = clmlf.build_model(plugin_model_spec(text_encoder={"type": "test_no_tokenizer"}))
    with pytest.raises(ContractError) as raised:
        text_tokenizer(model)
    message = str(raised.value)
    assert message.startswith("text_encoder 'test_no_tokenizer' (NoTokenizerEncoder from plugin_parts): lacks tokenizer and max_length")
    assert "tokenizer() -> a callable used like a Hugging Face tokenizer" in message
    assert message.endswith("the contract: docs/components.md#text_encoder")
    assert isinstance(raised.value, TypeError) and raised.value.kind == "text_encoder"


def test_an_encoder_returning_a_tuple_is_a_contract_error():
    model = clmlf.build_model(plugin_model_spec(text_encoder={"type": "test_tuple"}))
    with pytest.raises(ContractError, match=r"^text_encoder 'test_tuple' \(TupleEncoder from plugin_parts\): returned a tuple; "
                                            r"it must return clmlf.outputs.EncoderOutput; the contract: docs/components.md#text_encoder$"):
        model(**batch())


def test_cached_inputs_need_the_cache_capabilities(plugin_model):
    with pytest.raises(ContractError, match=r"image_encoder 'test_conv' .*lacks tokens"):
        plugin_model(**batch(images=False), image_features=torch.randn(2, 32, 4, 4))


def test_view_policy_comes_from_data_config_or_a_plain_resize(plugin_model, tiny_model):
    assert image_view_options(plugin_model.image_encoder, 32) == {"image_size": 32, "crop_pct": 1.0, "interpolation": "bilinear"}
    config = tiny_model.image_encoder.data_config
    assert image_view_options(tiny_model.image_encoder, 64) == {"image_size": 64, "crop_pct": config.crop_pct,
                                                                 "interpolation": config.interpolation}


def test_pixels_of_an_encoder_that_says_nothing_may_be_uint8_or_any_float(plugin_model, tiny_model):
    assert pixel_expectations(plugin_model.image_encoder) == (3, None)
    check_pixels(torch.rand(1, 3, 8, 8, dtype=torch.float64), *pixel_expectations(plugin_model.image_encoder))
    assert pixel_expectations(tiny_model.image_encoder) == (3, torch.float32)


def test_a_cache_the_encoder_cannot_give_is_one_warning(plugin_model, tiny_model, caplog):
    with caplog.at_level(logging.WARNING, logger="clmlf"):
        assert not cache_possible(plugin_model, "image_encoder", "data.cache_image_features")
        assert not cache_possible(plugin_model, "text_encoder", "data.cache_text_features")
        assert cache_possible(tiny_model, "image_encoder", "data.cache_image_features")
        assert cache_possible(tiny_model, "text_encoder", "data.cache_text_features")
    assert [record.getMessage() for record in caplog.records] == [
        "data.cache_image_features: image_encoder 'test_conv' (ConvImageEncoder) has no features/tokens/frozen, so nothing "
        "is cached: training goes on without the cache (docs/components.md#image_encoder)",
        "data.cache_text_features: text_encoder 'test_gru' (GRUTextEncoder) has no features/tokens, so nothing is cached: "
        "training goes on without the cache (docs/components.md#text_encoder)",
    ]


def test_without_a_backbone_the_whole_encoder_is_the_trainable_part(plugin_model, tiny_model):
    assert trainable_part(plugin_model.text_encoder) is plugin_model.text_encoder
    assert trainable_part(tiny_model.text_encoder) is tiny_model.text_encoder.backbone
    assert not is_frozen(plugin_model.text_encoder)
    groups = parameter_groups(plugin_model, TrainSpec(lr=1e-3, text_encoder_lr=1e-4, image_encoder_lr=0.0))
    members = {part: {id(p) for group in groups if group["name"].startswith(part) for p in group["params"]} for part in ("text", "image")}
    assert members == {"text": {id(p) for p in plugin_model.text_encoder.parameters()},
                       "image": {id(p) for p in plugin_model.image_encoder.parameters()}}
    assert {group["name"].split("/")[0]: group["lr"] for group in groups} == {"text": 1e-4, "image": 0.0, "rest": 1e-3}


def test_the_freeze_schedule_leaves_what_the_encoder_froze_itself(plugin_model):
    encoder = plugin_model.text_encoder
    encoder.embed.weight.requires_grad_(False)  # the plugin's own choice, unmarked
    set_text_encoder_trainable(plugin_model, False)
    assert not any(p.requires_grad for p in encoder.parameters())
    set_text_encoder_trainable(plugin_model, True)
    assert not encoder.embed.weight.requires_grad and all(p.requires_grad for p in encoder.gru.parameters())


def test_the_freeze_schedule_of_a_backbone_keeps_its_frozen_layers(tiny_spec):
    spec = tiny_spec.model.model_copy(update={"text_encoder": tiny_spec.model.text_encoder.model_copy(update={"freeze_layers": 1})})
    model = clmlf.build_model(spec)
    frozen = {name for name, p in model.text_encoder.backbone.named_parameters() if not p.requires_grad}
    set_text_encoder_trainable(model, False)
    assert all(not p.requires_grad for p in model.text_encoder.backbone.parameters())
    assert all(p.requires_grad for p in model.text_encoder.project.parameters())  # outside the backbone
    set_text_encoder_trainable(model, True)
    assert {name for name, p in model.text_encoder.backbone.named_parameters() if not p.requires_grad} == frozen != set()


def docs_sections() -> dict[str, str]:
    """``{kind: section text}`` of docs/components.md: one ``## kind`` heading (anchor ``#kind``) per section."""
    parts = re.split(r"^## (\w+)\s*$", DOCS.read_text(), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_docs_have_a_section_per_kind_naming_its_capabilities():
    sections = docs_sections()
    assert set(sections) == set(KINDS)
    assert "(loss_terms.md)" in sections["loss"]
    for kind, contract in CONTRACTS.items():
        for member in contract.required:
            assert f"`{member}" in sections[kind], (kind, member)
        rows = sections[kind].replace("`", "")
        for capability in contract.capabilities:  # a table row whose first cell names it
            assert re.search(rf"^\| {re.escape(capability.name)}( \(.*\))? \|", rows, re.MULTILINE), (kind, capability.name)


def test_compile_parts_compiles_an_encoder_without_backbone_whole(plugin_model):
    inputs = batch()
    expected = plugin_model.eval()(**inputs).logits
    plugin_model.compile_parts(backend="eager")
    assert plugin_model.text_encoder._compiled_call_impl is not None and plugin_model.image_encoder._compiled_call_impl is not None
    torch.testing.assert_close(plugin_model(**inputs).logits, expected)
