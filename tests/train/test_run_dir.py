"""Run-directory files are written atomically and end up with ordinary permissions (not the temporary file's 0600)."""

from __future__ import annotations

import os

from clmlf.train.run_dir import default_mode, write_atomic


def test_write_atomic_replaces_whole_files_with_ordinary_permissions(tmp_path):
    path = tmp_path / "run" / "metrics.json"
    write_atomic(path, "{}")
    write_atomic(path, '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    assert os.stat(path).st_mode & 0o777 == default_mode() and default_mode() & 0o044, "group/other can read it"
    assert sorted(p.name for p in path.parent.iterdir()) == ["metrics.json"], "no temporary file left behind"
