"""Tiny trained runs for the ``clmlf serve`` tests: 1 epoch of the tiny config on 16 synthetic posts."""

from __future__ import annotations

from pathlib import Path

import pytest

from clmlf.cli import main
from clmlf.testing.posts import write_posts
from conftest import TINY_CONFIG

TRAINED: dict[bool, Path] = {}
"""Runs trained in this session, by ``aspects``: the test modules importing the fixtures share them."""


def train_tiny(folder: Path, aspects: bool = False) -> Path:
    """``folder/run``: the tiny config trained for one epoch on :func:`write_posts` posts (with aspects: an aspect model)."""
    posts = write_posts(folder / "posts", aspects=aspects)
    argv = ["train", str(TINY_CONFIG), "--out", str(folder / "run"), "--no-progress", "--set=train.batch_size=8",
            "--set=train.epochs=1", f"--set=data.dataset={{type: jsonl, root: '{posts}', train: train.jsonl, "
            "dev: dev.jsonl, test: test.jsonl, images: true}"]
    assert main(argv + (["--set=data.formatter={type: aspect}"] if aspects else [])) == 0
    return folder / "run"


def trained(tmp_path_factory, aspects: bool) -> Path:
    if aspects not in TRAINED:
        TRAINED[aspects] = train_tiny(tmp_path_factory.mktemp("serve"), aspects)
    return TRAINED[aspects]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, aspects=False)


@pytest.fixture(scope="session")
def tiny_aspect_run(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, aspects=True)
