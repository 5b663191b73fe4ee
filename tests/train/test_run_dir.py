"""Run-directory files are written atomically and end up with ordinary permissions (not the temporary file's 0600)."""

from __future__ import annotations

import os

import pytest
import torch

from clmlf.spec import TrainSpec
from clmlf.train.optim import build_optimizer, build_scheduler
from clmlf.train.run_dir import RunDir, default_mode, write_atomic


def test_write_atomic_replaces_whole_files_with_ordinary_permissions(tmp_path):
    path = tmp_path / "run" / "metrics.json"
    write_atomic(path, "{}")
    write_atomic(path, '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    assert os.stat(path).st_mode & 0o777 == default_mode() and default_mode() & 0o044, "group/other can read it"
    assert sorted(p.name for p in path.parent.iterdir()) == ["metrics.json"], "no temporary file left behind"


def test_a_failed_state_save_keeps_the_last_state_and_leaves_no_partial_one(tiny_model, tmp_path, monkeypatch):
    """A full disk (or Ctrl-C) while the next state is written: the previous state stays loadable, no scratch left."""
    run = RunDir(tmp_path)
    train = TrainSpec(lr=1e-3)
    optimizer = build_optimizer(tiny_model, train)
    scheduler = build_scheduler(optimizer, 10, train)
    run.save_state(tiny_model, optimizer, scheduler, 1, [{"epoch": 1}], None)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        run.save_state(tiny_model, optimizer, scheduler, 2, [{"epoch": 1}, {"epoch": 2}], None)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]
    assert run.load_state(tiny_model, optimizer, scheduler, torch.device("cpu"))["epoch"] == 1

