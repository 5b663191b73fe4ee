"""Every encoder-only Hugging Face family as the text encoder, from a tiny random config (no download)."""

from __future__ import annotations

import json

import pytest
import torch

from clmlf.encoders.text_hf import HFTextEncoder
from clmlf.spec import validate_spec
from clmlf.testing import check_component
from hf_families import TINY_FAMILIES, family_spec

TYPES = {"bert-base-uncased": ("BertModel", True), "roberta-base": ("RobertaModel", False),
         "distilbert-base-uncased": ("DistilBertModel", False), "microsoft/deberta-v3-base": ("DebertaV2Model", False),
         "google/electra-base-discriminator": ("ElectraModel", True), "xlm-roberta-base": ("XLMRobertaModel", False),
         "microsoft/mpnet-base": ("MPNetModel", False), "albert-base-v2": ("AlbertModel", True)}


def build(name, folder, **fields) -> HFTextEncoder:
    from clmlf.registry import registry

    spec = validate_spec(registry().entry("text_encoder", "hf").spec, family_spec(name, folder, **fields))
    return spec.build(d_model=16)


@pytest.mark.parametrize("name", list(TINY_FAMILIES))
def test_family_builds_runs_and_trains(name, tmp_path):
    """Offline architecture name + tiny config: the right model class, its token-type rule, pooled = first token,
    and the component contract with 2 training steps on synthetic posts."""
    encoder = build(name, tmp_path / "tokenizer")
    model_class, token_types = TYPES[name]
    assert type(encoder.backbone).__name__ == model_class and encoder.token_types == token_types
    batch = encoder.tokenizer()(["great sunny day", "sad"], ["bus", "rain"], padding=True, max_length=16,
                                return_tensors="pt", truncation="only_first")
    output = encoder.eval()(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
    assert output.hidden.shape == (2, batch["input_ids"].shape[1], 16)
    assert torch.equal(output.pooled, output.hidden[:, 0])
    check_component("text_encoder", family_spec(name, tmp_path / "tokenizer"), train_steps=2, workdir=tmp_path / "check")
    metrics = json.loads((tmp_path / "check" / "training" / "run" / "metrics.json").read_text())
    assert metrics["epochs"][0]["train"]["loss"] > 0


@pytest.mark.parametrize("name", [name for name in TINY_FAMILIES if name != "albert-base-v2"])
def test_prefix_cache_states_match_the_full_pass(name, tmp_path):
    """features(depth=1) then tokens(depth=1) gives the full forward pass (ELECTRA: through its embedding
    projection; DistilBERT: its layers under .transformer)."""
    encoder = build(name, tmp_path / "tokenizer", freeze_layers=1).eval()
    batch = encoder.tokenizer()(["great sunny day", "sad"], padding=True, return_tensors="pt")
    ids, mask, types = batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids")
    prefix = encoder.features(ids, mask, types, depth=1)
    torch.testing.assert_close(encoder.tokens(prefix, mask, depth=1).hidden, encoder(ids, mask, types).hidden)
    assert not any(p.requires_grad for p in encoder.backbone.embeddings.parameters())


def test_albert_has_no_bottom_freeze(tmp_path):
    with pytest.raises(ValueError, match="freeze_layers: AlbertModel .*shares one layer.*freeze: true"):
        build("albert-base-v2", tmp_path / "tokenizer", freeze_layers=1)


def test_bert_tokenizer_for_a_roberta_model_is_refused(tmp_path):
    """The packaged MiniLM (BERT WordPiece) tokenizer pads with 0; RoBERTa counts positions from its pad id 1."""
    from clmlf.encoders.text_offline import minilm_dir

    encoder = build("roberta-base", tmp_path / "tokenizer", config_overrides={**TINY_FAMILIES["roberta-base"], "vocab_size": 50265},
                    tokenizer_name=minilm_dir())
    with pytest.raises(ValueError, match=r"tokenizer_name: .* pads with id 0 but the roberta model pads with 1: it belongs to another model family"):
        encoder.tokenizer()


def test_tokenizer_larger_than_the_embeddings_is_refused(tmp_path):
    from clmlf.encoders.text_offline import minilm_dir

    encoder = build("microsoft/deberta-v3-base", tmp_path / "tokenizer", tokenizer_name=minilm_dir())
    with pytest.raises(ValueError, match="has 30522 tokens but the deberta-v2 model embeds only 100"):
        encoder.tokenizer()


def test_unreachable_tokenizer_names_the_field(tmp_path):
    encoder = HFTextEncoder("roberta-base", pretrained=False, config_overrides=TINY_FAMILIES["roberta-base"])
    with pytest.raises(ValueError, match="model.text_encoder.tokenizer_name: cannot load a tokenizer from 'roberta-base'"):
        encoder.tokenizer()


def test_unknown_model_name_names_the_field():
    with pytest.raises(ValueError, match="model.text_encoder.model_name: cannot load .*'no-such/model'.*known offline"):
        HFTextEncoder("no-such/model", pretrained=False)
