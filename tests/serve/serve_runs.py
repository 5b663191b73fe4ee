"""Tiny trained runs for the ``clmlf serve`` tests: 1 epoch of the tiny config on 16 synthetic posts."""

from __future__ import annotations

from pathlib import Path

import pytest

from clmlf.cli import main
from clmlf.testing.posts import write_posts
from conftest import TINY_CONFIG

KINDS = {
    "sentence": [],
    "aspect": ["--set=data.formatter={type: aspect}"],
    "text_only": ["--set=model.image_encoder=null", "--set=model.image_transformer=null", "--set=model.fusion=null",
                  "--set=model.pooler={type: cls}"],
}
"""The ``--set`` overrides of each kind of run the tests serve."""
TRAINED: dict[str, Path] = {}
"""Runs trained in this session, by kind: the test modules importing the fixtures share them."""


def trained(tmp_path_factory, kind: str) -> Path:
    """The tiny config trained for one epoch on :func:`write_posts` posts (with aspects for the aspect kind)."""
    if kind not in TRAINED:
        folder = tmp_path_factory.mktemp(f"serve_{kind}")
        posts = write_posts(folder / "posts", aspects=kind == "aspect")
        argv = ["train", str(TINY_CONFIG), "--out", str(folder / "run"), "--no-progress", "--set=train.batch_size=8",
                "--set=train.epochs=1", f"--set=data.dataset={{type: jsonl, root: '{posts}', train: train.jsonl, "
                "dev: dev.jsonl, test: test.jsonl, images: true}"]
        assert main(argv + KINDS[kind]) == 0
        TRAINED[kind] = folder / "run"
    return TRAINED[kind]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, "sentence")


@pytest.fixture(scope="session")
def tiny_aspect_run(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, "aspect")


@pytest.fixture(scope="session")
def tiny_text_run(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, "text_only")
