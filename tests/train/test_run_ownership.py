"""A run directory belongs to one process at a time (``run.lock``), and ``--overwrite`` keeps the old run whole until
the new one is known to start."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import clmlf
from clmlf.cli import main
from clmlf.testing.posts import write_posts
from clmlf.train.run_lock import LOCK_FILE
from conftest import REPO, TINY_CONFIG

SMALL = ["--set=train.batch_size=8", "--set=train.epochs=1", "--no-progress"]


def posts_dataset(folder: Path, train_posts: int = 16) -> str:
    """A ``--set`` of ``data.dataset`` reading the posts :func:`write_posts` writes to ``folder`` (16/8/8 posts)."""
    write_posts(folder, (train_posts, 8, 8))
    return (f"--set=data.dataset={{type: jsonl, root: '{folder}', train: train.jsonl, dev: dev.jsonl, "
            "test: test.jsonl, images: true}")


def train_argv(out: Path, dataset: str, *flags: str) -> list[str]:
    return ["train", str(TINY_CONFIG), "--out", str(out), dataset, *SMALL, *flags]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, str]:
    """A finished 1-epoch tiny run on 16 posts, and the ``--set`` of its dataset."""
    folder = tmp_path_factory.mktemp("finished")
    dataset = posts_dataset(folder / "posts")
    assert main(train_argv(folder / "run", dataset)) == 0
    return folder / "run", dataset


def copied_run(finished_run, tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(finished_run[0], run)
    return run


def start_training(out: Path, dataset: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "clmlf", *train_argv(out, dataset)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_lock(out: Path, process: subprocess.Popen, timeout: float = 120) -> dict:
    """The holder record once ``process`` has taken the run's lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            record = json.loads((out / LOCK_FILE).read_text())
            if record.get("pid") == process.pid:
                return record
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError("the training process never took the lock")


def test_a_second_run_on_the_same_out_is_refused_at_once(tmp_path, capsys):
    dataset = posts_dataset(tmp_path / "posts", train_posts=480)  # the first run must outlast the second's start, under load too
    out = tmp_path / "run"
    first = start_training(out, dataset)
    try:
        holder = wait_for_lock(out, first)
        started = time.monotonic()
        assert main(train_argv(out, dataset, "--overwrite")) == 2
        assert time.monotonic() - started < 10, "refused at once, not after building a model"
        error = capsys.readouterr().err
        assert f"is in use by pid {first.pid} on {holder['host']}, started {holder['started']}" in error
        assert "wait for that run to finish" in error and "another --out" in error
        assert first.wait(timeout=300) == 0, first.communicate()
    finally:
        first.kill()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"] is not None and [record["epoch"] for record in metrics["epochs"]] == [1]
    assert not (out / LOCK_FILE).exists(), "the lock goes with the run"
    assert main(train_argv(out, dataset, "--resume")) == 0, "one consistent run: --resume accepts it"


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path, caplog):
    dataset = posts_dataset(tmp_path / "posts")
    out = tmp_path / "run"
    killed = start_training(out, dataset)
    try:
        wait_for_lock(out, killed)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    assert json.loads((out / LOCK_FILE).read_text())["pid"] == killed.pid, "the lock file stays behind"
    (out / ".state-x1y2z3w4").mkdir()  # what a kill during the state write leaves
    (out / ".state-x1y2z3w4" / "model.safetensors").write_bytes(b"half")
    caplog.set_level("INFO", logger="clmlf")
    assert main(train_argv(out, dataset, "--overwrite")) == 0
    assert f"taking over the lock of a run that ended without releasing it (pid {killed.pid}" in caplog.text
    assert sorted(path.name for path in out.iterdir() if path.name.startswith(".")) == [], "no staging left"
    assert json.loads((out / "metrics.json").read_text())["test"] is not None


def saved_outputs(run: Path) -> dict[str, bytes]:
    return {name: (run / name).read_bytes() for name in ("config.json", "metrics.json", "predictions_test.jsonl",
                                                         "checkpoint/model.safetensors", "state/trainer.pt")}


@pytest.mark.parametrize("damage", ["bad_json_line", "text_as_image"])
def test_overwrite_keeps_the_old_run_when_the_new_one_cannot_start(finished_run, tmp_path, capsys, damage):
    run = copied_run(finished_run, tmp_path)
    before = saved_outputs(run)
    posts = tmp_path / "posts"
    dataset = posts_dataset(posts)
    if damage == "bad_json_line":
        with open(posts / "dev.jsonl", "a") as handle:
            handle.write('{"text": "broken", \n')
    else:
        (posts / "images" / "test-3.jpg").write_text("not an image at all")
    assert main(train_argv(run, dataset, "--overwrite")) == 2
    error = capsys.readouterr().err
    assert ("dev.jsonl: 1 problem" in error) if damage == "bad_json_line" else ("test-3.jpg" in error)
    assert saved_outputs(run) == before, "the old run is untouched"
    model = clmlf.CLMLF.from_pretrained(run / "checkpoint")
    state = torch.load(run / "state" / "trainer.pt", weights_only=True)
    assert state["epoch"] == 1 and isinstance(model, clmlf.CLMLF)
    assert main(["evaluate", str(run), "--split", "dev"]) == 0


@pytest.mark.parametrize("name, command", [("config.json", ["evaluate", "{run}"]),
                                           ("metrics.json", ["predict", "{run}", "--text", "a fine day"])])
def test_a_damaged_run_file_is_named_with_the_fix(finished_run, tmp_path, capsys, name, command):
    run = copied_run(finished_run, tmp_path)
    (run / name).write_text('{"name": "tiny", ')
    assert main([part.format(run=run) for part in command]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {run / name}: not valid JSON (") and error.count("\n") == 1
    assert "restore it from a copy of the run, or train the run again (clmlf train --overwrite)" in error
