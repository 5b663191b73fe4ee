"""The built wheel, installed into a fresh environment and run from a folder outside the repository: presets resolve
by name (package data), a tiny run trains and logs TensorBoard events, its checkpoint carries a model card and reloads
by Hub id from an offline cache, and predict --jsonl runs batched; installed beside an older supported torch and its
torchvision, it keeps them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow
OLDER_TORCH = sorted(Path("/opt/wheels").glob("torch-2.13.0*-cp311-*.whl"))
"""A torch older than the pinned one, on this machine's disk (its CPU build)."""


def run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``command`` run to success (its output in the failure message)."""
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(map(str, command))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """clmlf's wheel, built from a copy of the package (no stale build/ folder of the checkout can slip in)."""
    source = tmp_path_factory.mktemp("source")
    shutil.copytree(REPO / "clmlf", source / "clmlf", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", out, source)
    (built,) = out.glob("clmlf-*.whl")
    return built


def fresh_venv(folder: Path, *options: str) -> Path:
    """A new virtual environment in ``folder``; returns its python."""
    run(sys.executable, "-m", "venv", *options, folder)
    return folder / "bin" / "python"


def test_the_wheel_resolves_presets_by_name_and_trains_outside_the_repository(wheel, tmp_path):
    from clmlf.testing import write_posts

    python = fresh_venv(tmp_path / "venv", "--without-pip")
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    # the dependencies from this interpreter, as a plain path line: its editable clmlf (a .pth there) is not loaded
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel)
    elsewhere = tmp_path / "elsewhere"
    posts = write_posts(elsewhere / "posts", sizes=(12, 6, 6))
    env = {**{key: value for key, value in os.environ.items() if key != "PYTHONPATH"}, "OMP_NUM_THREADS": "1"}
    clmlf = python.parent / "clmlf"

    imported = run(python, "-c", "import clmlf; print(clmlf.__file__); clmlf.build_model('tiny')", cwd=elsewhere, env=env).stdout
    assert imported.startswith(str(site / "clmlf")), imported
    listed = run(clmlf, "presets", cwd=elsewhere, env=env).stdout
    assert "tiny " in listed and len(listed.splitlines()) == len(list((REPO / "clmlf" / "configs").glob("*.yaml")))
    assert "tiny: OK" in run(clmlf, "validate", "tiny", cwd=elsewhere, env=env).stderr
    dataset = f"data.dataset={{type: jsonl, root: {posts}, train: train.jsonl, dev: dev.jsonl, test: test.jsonl, images: true}}"
    trained = run(clmlf, "train", "tiny.yaml", "--set", dataset, "--set", "train.epochs=1", "--set", "train.batch_size=6",
                  "--out", "runs/tiny", "--no-progress", cwd=elsewhere, env=env).stdout
    assert json.loads(trained)["run"] == "runs/tiny" and 0 <= json.loads(trained)["test"]["accuracy"] <= 1
    run_dir = elsewhere / "runs" / "tiny"
    assert (run_dir / "metrics.json").is_file()
    the_installed_run_is_shareable_and_predicts_in_batches(python, run_dir, posts, env)


def the_installed_run_is_shareable_and_predicts_in_batches(python: Path, run_dir: Path, posts: Path, env: dict[str, str]) -> None:
    """What the wheel's tiny run gives a user: TensorBoard events, a model card, a reload by Hub id from an offline
    cache, and batched ``predict --jsonl``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from test_sharing import cache_repo

    tags = EventAccumulator(str(run_dir / "tensorboard")).Reload().Tags()["scalars"]
    assert {"train/loss", "dev/accuracy", "train/samples_per_s"} <= set(tags), tags
    assert "library_name: clmlf" in (run_dir / "checkpoint" / "README.md").read_text()
    cache_repo(run_dir / "checkpoint", run_dir.parent / "hub-cache", "someuser/tiny-clmlf")
    hub = {**env, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(run_dir.parent / "hub-cache")}
    loaded = run(python, "-c", "import clmlf; print(type(clmlf.CLMLF.from_pretrained('someuser/tiny-clmlf')).__name__)",
                 cwd=run_dir.parent, env=hub).stdout
    assert loaded.strip() == "CLMLF"
    predicted = run(python.parent / "clmlf", "predict", run_dir, "--jsonl", posts / "test.jsonl", "--batch-size", "4",
                    cwd=run_dir.parent, env=env).stdout.splitlines()
    assert [json.loads(line)["id"] for line in predicted] == [f"test-{index}" for index in range(6)]


@pytest.mark.skipif(not OLDER_TORCH, reason="no torch 2.13.0 wheel in /opt/wheels")
def test_installing_the_wheel_keeps_an_older_supported_torch(wheel, tmp_path):
    """pip resolves clmlf's dependencies around the torch and torchvision it finds (2.13.0, 0.28.0) instead of replacing
    them. (Without a torchvision installed, pip takes the newest one, which asks for a newer torch: docs/compatibility.md.)"""
    python = fresh_venv(tmp_path / "venv")
    run(python, "-m", "pip", "install", "-q", "--no-deps", OLDER_TORCH[-1], "torchvision==0.28.0")
    report = tmp_path / "report.json"
    run(python, "-m", "pip", "install", "-q", "--dry-run", "--report", report, wheel)
    import clmlf

    chosen = {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in json.loads(report.read_text())["install"]}
    assert "torch" not in chosen, f"pip would replace torch 2.13.0 by {chosen.get('torch')}"
    assert chosen["clmlf"] == clmlf.__version__ and "torchvision" not in chosen, chosen
    assert run(python, "-c", "import importlib.metadata as m; print(m.version('torch'))").stdout.startswith("2.13.0")
