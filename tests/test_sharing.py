"""Shareable checkpoints: the model card, loading by Hub id from an offline cache, push_to_hub (no network)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from huggingface_hub import ModelCard, constants

import clmlf
from clmlf.model_card import CardResults
from conftest import tiny_batch

RESULTS = CardResults("tiny", "mvsa_single", {"accuracy": 0.625, "f1": 0.5, "weighted_f1": 0.5, "macro_f1": 0.375,
                                              "cross_entropy": 1.05}, ("negative", "neutral", "positive"))
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def cache_repo(checkpoint: Path, cache: Path, repo_id: str) -> Path:
    """Lay ``checkpoint`` out in ``cache`` as huggingface_hub's downloads do: ``models--ORG--NAME/`` with content-named
    ``blobs/``, ``refs/main`` holding the commit, and ``snapshots/<commit>/`` of links to the blobs."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    for file in sorted(path for path in checkpoint.rglob("*") if path.is_file()):
        blob = repo / "blobs" / hashlib.sha256(file.read_bytes()).hexdigest()
        shutil.copyfile(file, blob)
        link = repo / "snapshots" / COMMIT / file.relative_to(checkpoint)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return repo


@pytest.fixture
def offline_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hub cache, with huggingface_hub offline (it reads both settings when imported)."""
    cache = tmp_path / "hub-cache"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_saved_checkpoint_carries_a_model_card_the_hub_reads(tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path, model_card_kwargs={"results": RESULTS, "repo_id": "someuser/tiny-clmlf"})
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.library_name == "clmlf"
    assert {"clmlf", "multimodal", "sentiment-analysis", "pytorch"} <= set(card.data.tags)
    assert card.data.datasets == ["MVSA-Single"] and card.data.model_name == "tiny-clmlf"
    results = {(result.metric_type, result.metric_config): result.metric_value for result in card.data.eval_results}
    assert results == {("accuracy", None): 0.625, ("f1", "weighted"): 0.5, ("f1", "macro"): 0.375, ("cross_entropy", None): 1.05}
    assert {result.dataset_split for result in card.data.eval_results} == {"test"}
    assert 'CLMLF.from_pretrained("someuser/tiny-clmlf")' in card.text and "`negative`, `neutral`, `positive`" in card.text
    spec = yaml.safe_load(card.text.split("```yaml\n")[1].split("```")[0])
    assert spec == json.loads((tmp_path / "config.json").read_text())["spec"]


def test_card_without_results_has_no_model_index(tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path)
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.library_name == "clmlf" and not card.data.eval_results and card.data.datasets is None
    assert "## Results" not in card.text and "## Spec" in card.text
    assert str(tiny_model.generate_model_card(results=RESULTS)).startswith("---\n")


def test_checkpoint_reloads_by_hub_id_from_an_offline_cache(tiny_model, tmp_path, offline_cache):
    batch = tiny_batch()
    with torch.no_grad():
        expected = tiny_model(**batch).logits
    cache_repo(tiny_model.save_pretrained(tmp_path / "saved"), offline_cache, "someuser/tiny-clmlf")
    loaded = clmlf.CLMLF.from_pretrained("someuser/tiny-clmlf")
    assert not loaded.training
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).logits, expected, rtol=0, atol=0)
    elsewhere = tmp_path / "other-cache"
    shutil.move(offline_cache, elsewhere)
    again = clmlf.CLMLF.from_pretrained("someuser/tiny-clmlf", cache_dir=elsewhere, revision=COMMIT, local_files_only=True)
    with torch.no_grad():
        torch.testing.assert_close(again(**batch).logits, expected, rtol=0, atol=0)


def test_hub_checkpoint_with_part_folders_loads_from_the_cache(tmp_path, offline_cache):
    """A checkpoint whose text encoder stored its config and tokenizer under ``text_encoder/`` (all files fetched)."""
    from transformers import AutoConfig

    from clmlf.testing.tokenizers import write_tiny_tokenizer
    from hf_families import TINY_FAMILIES

    AutoConfig.for_model("bert", **TINY_FAMILIES["bert-base-uncased"]).save_pretrained(tmp_path / "bert")
    tokenizer = write_tiny_tokenizer(tmp_path / "tokenizer", "bert")
    model = clmlf.build_model({"d_model": 32, "num_classes": 3, "pooler": {"type": "attention"}, "head": {"type": "mlp"},
                               "text_encoder": {"type": "hf", "model_name": str(tmp_path / "bert"),
                                                "tokenizer_name": str(tokenizer), "pretrained": False}}).eval()
    cache_repo(model.save_pretrained(tmp_path / "saved"), offline_cache, "someuser/text-only")
    shutil.rmtree(tmp_path / "bert"), shutil.rmtree(tokenizer)
    loaded = clmlf.CLMLF.from_pretrained("someuser/text-only")
    batch = loaded.text_encoder.tokenizer()(["a sunny day", "rain"], padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).logits, model(**batch).logits, rtol=0, atol=0)


def test_missing_checkpoints_name_the_source(tmp_path, offline_cache):
    with pytest.raises(FileNotFoundError, match="someuser/absent: no such checkpoint folder, and the Hub repository"):
        clmlf.CLMLF.from_pretrained("someuser/absent")
    with pytest.raises(FileNotFoundError, match="no such checkpoint folder \\(and not a Hub repository id"):
        clmlf.CLMLF.from_pretrained(tmp_path / "runs" / "missing" / "checkpoint")


def test_push_to_hub_uploads_the_checkpoint_with_its_card(tiny_model, tmp_path, monkeypatch):
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoUrl

    uploaded = {}

    def upload_folder(self, *, repo_id, folder_path, **options):
        shutil.copytree(folder_path, tmp_path / "uploaded")
        uploaded.update(repo_id=repo_id, **options)
        return f"https://huggingface.co/{repo_id}/commit/{COMMIT}"

    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **options: RepoUrl(f"https://huggingface.co/{repo_id}"))
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    url = tiny_model.push_to_hub("someuser/tiny-clmlf", model_card_kwargs={"results": RESULTS}, private=True)
    assert url.endswith(COMMIT) and uploaded["repo_id"] == "someuser/tiny-clmlf" and uploaded["repo_type"] == "model"
    folder = tmp_path / "uploaded"
    assert sorted(path.name for path in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert set(json.loads((folder / "config.json").read_text())) == {"spec", "versions", "assets"}
    card = ModelCard.load(folder / "README.md")
    assert 'CLMLF.from_pretrained("someuser/tiny-clmlf")' in card.text and card.data.eval_results
    batch = tiny_batch()
    with torch.no_grad():
        torch.testing.assert_close(clmlf.CLMLF.from_pretrained(folder)(**batch).logits, tiny_model(**batch).logits, rtol=0, atol=0)


def test_save_pretrained_takes_no_mixin_config(tiny_model, tmp_path):
    with pytest.raises(ValueError, match="writes config.json from the model's spec"):
        tiny_model.save_pretrained(tmp_path, config={"hidden": 3})
    assert "_hub_mixin_config" not in vars(tiny_model)
