"""Shared fixtures: tiny random models only (no downloads)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never download
if shutil.which("nvidia-smi") is None:  # no GPU: Triton kernels run in its interpreter; must be set before triton loads
    os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest
import torch

import clmlf

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "configs" / "tiny.yaml"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def tiny_spec() -> clmlf.ExperimentSpec:
    return clmlf.load_spec(TINY_CONFIG)


@pytest.fixture
def tiny_model(tiny_spec) -> clmlf.CLMLF:
    return clmlf.build_model(tiny_spec).eval()


def tiny_batch(batch: int = 2, length: int = 9, image: int = 64, pad: int = 3) -> dict[str, torch.Tensor]:
    """Random ids with the last ``pad`` positions of row 0 padded, random pixels."""
    input_ids = torch.randint(1000, 2000, (batch, length))
    input_ids[:, 0] = 101
    attention_mask = torch.ones(batch, length, dtype=torch.long)
    attention_mask[0, length - pad:] = 0
    input_ids[0, length - pad:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask, "pixel_values": torch.randn(batch, 3, image, image)}


def has_real_data() -> bool:
    """Whether the real datasets (``CLMLF_DATA_DIR`` or ../shared/data) can be found."""
    from clmlf.data.root import locate_data_root

    try:
        locate_data_root()
        return True
    except Exception:
        return False


TINY_RUN = ["data.dataset.max_train=32", "data.dataset.max_eval=24", "train.batch_size=8", "train.epochs=1"]


@pytest.fixture(scope="session")
def tiny_ablation(tmp_path_factory) -> Path:
    """``clmlf ablate`` of the tiny config: rows text_only, late_fusion, clmlf; 1 seed of 1 epoch on 32 real samples."""
    if not has_real_data():
        pytest.skip("real data (../shared/data) absent")
    from clmlf.cli import main

    out = tmp_path_factory.mktemp("ablation")
    argv = ["ablate", str(TINY_CONFIG), "--seeds", "1", "--out", str(out), "--rows", "text_only,late_fusion,clmlf", "--no-progress"]
    assert main(argv + [f"--set={override}" for override in TINY_RUN]) == 0
    return out


@pytest.fixture(scope="module")
def plugin_parts():
    """Third-party-style components (tests/plugin_parts.py) registered for one test module."""
    from plugin_parts import registered

    with registered():
        yield
