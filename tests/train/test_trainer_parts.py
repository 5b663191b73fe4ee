"""docs/training.md, "Train your own model from Python": a user's own nn.Module (clmlf encoders + its own mean-pool head)
trains with ``Trainer`` on real MVSA-Single, writes metrics.json with test metrics, and its checkpoint reloads."""

from __future__ import annotations

import json
import re

import pytest
import torch
from safetensors.torch import load_model

from conftest import REPO, has_real_data

pytestmark = pytest.mark.skipif(not has_real_data(), reason="real data (../shared/data) absent")


def test_a_python_model_trains_with_the_trainer(tmp_path, monkeypatch):
    (example,) = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "training.md").read_text(), flags=re.S)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "training_example"}
    source = example.replace('"configs/', f'"{REPO}/configs/')
    exec(compile(source, "docs/training.md", "exec", dont_inherit=True), namespace)  # noqa: S102
    run = tmp_path / "runs" / "mean_pool"
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["test"] == namespace["metrics"]["test"] and set(saved["test"]) >= {"accuracy", "f1", "cross_entropy"}
    assert saved["name"] == "MeanPoolModel" and saved["samples"] == {"train": 32, "dev": 24, "test": 24}
    assert list(saved["epochs"][0]["train"]) == ["loss", "sc", "lbcl", "dbcl"], "DBCL ran on two calls (no forward_pair)"
    assert not (run / "config.json").exists() and (run / "predictions_test.jsonl").is_file()

    spec, trained = namespace["spec"], namespace["model"]
    fresh = namespace["MeanPoolModel"](spec.model.text_encoder.build(), spec.model.image_encoder.build(), spec.model.d_model,
                                       spec.model.num_classes)
    assert not torch.equal(fresh.classifier.weight, trained.classifier.weight)
    load_model(fresh, str(run / "checkpoint" / "model.safetensors"))
    torch.testing.assert_close(fresh.state_dict(), trained.state_dict(), rtol=0, atol=0)  # one epoch: the best is the last
