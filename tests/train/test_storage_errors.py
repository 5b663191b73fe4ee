"""A full disk, a read-only file system or a forbidden folder: one line naming the path, the cause and the fix (exit
2); the last saved state stays whole and no temporary file is left."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import SafetensorError

from clmlf.cli import main
from clmlf.storage import StorageError, errno_of, writing
from clmlf.train.run_dir import write_atomic
from conftest import TINY_CONFIG
from test_run_ownership import posts_dataset, train_argv


def leftovers(run: Path) -> list[str]:
    return sorted(path.name for path in run.rglob("*") if path.name.startswith(".") or path.suffix == ".tmp")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_failed_state_write_is_one_line_and_keeps_the_last_state(tmp_path, monkeypatch, capsys, code):
    real_save, calls = torch.save, []

    def fails_the_second_time(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(code, os.strerror(code))
        return real_save(*args, **kwargs)

    monkeypatch.setattr(torch, "save", fails_the_second_time)
    run = tmp_path / "run"
    assert main(train_argv(run, posts_dataset(tmp_path / "posts"), "--set=train.epochs=2")) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write {run / 'state'}: {os.strerror(code)} "
                                                   f"({errno.errorcode[code]}); ")
    assert ("free space there" if code == errno.ENOSPC else "read-only: pass a writable --out") in lines[0]
    assert torch.load(run / "state" / "trainer.pt", weights_only=True)["epoch"] == 1, "the last good state"
    assert leftovers(run) == [] and (run / "checkpoint" / "model.safetensors").is_file()


def test_a_folder_that_cannot_be_written_is_named(tmp_path, monkeypatch, capsys):
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o555)
    if os.access(locked, os.W_OK):  # root writes anyway: fail the way a read-only folder does
        real_mkdir = Path.mkdir

        def forbidden(self, *args, **kwargs):
            if locked in self.parents:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
            return real_mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", forbidden)
    run = locked / "run"
    assert main(["train", str(TINY_CONFIG), "--out", str(run)]) == 2
    assert capsys.readouterr().err == (f"error: cannot write {run}: Permission denied (EACCES); no permission to write "
                                       "there: fix the folder's permissions, or pass another --out\n")
    locked.chmod(0o755)


def test_write_atomic_keeps_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    write_atomic(path, "old")

    def read_only(*args):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(os, "replace", read_only)
    with pytest.raises(StorageError, match=f"cannot write {path}: Read-only file system"):
        write_atomic(path, "new")
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"] and path.read_text() == "old"


def test_the_errno_of_writers_that_give_none(tmp_path, monkeypatch):
    safetensors_says = SafetensorError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, '
                                       'message: "No space left on device" })')
    assert errno_of(safetensors_says, tmp_path) == errno.ENOSPC
    torch_says = RuntimeError("basic_ios::clear: iostream error")
    assert errno_of(torch_says, tmp_path / "state" / "trainer.pt") is None, "plenty of space, writable: unknown"
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(100, 100, 0))
    assert errno_of(torch_says, tmp_path / "state" / "trainer.pt") == errno.ENOSPC
    with pytest.raises(StorageError) as raised, writing(tmp_path / "state"):
        raise torch_says
    assert str(raised.value).startswith(f"cannot write {tmp_path / 'state'}: No space left on device (ENOSPC)")
    with pytest.raises(ValueError), writing(tmp_path):
        raise ValueError("not a storage problem: passes as it is")
