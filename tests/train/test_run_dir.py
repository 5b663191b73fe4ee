"""Run-directory files are written atomically and end up with ordinary permissions (not the temporary file's 0600)."""

from __future__ import annotations

import json
import os

import pytest
import torch

import clmlf
from clmlf.errors import SpecError
from clmlf.spec import TrainSpec
from clmlf.train.optim import build_optimizer, build_scheduler
from clmlf.train.run_dir import RunDir, default_mode, spec_conflicts, write_atomic
from conftest import TINY_CONFIG


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



def saved_run(tmp_path, spec):
    run = RunDir(tmp_path / "run")
    run.write_config(spec)
    return run


def test_resume_accepts_epochs_and_execution_settings_only(tmp_path, tiny_spec):
    run = saved_run(tmp_path, tiny_spec)
    same_training = clmlf.load_spec(TINY_CONFIG, ["train.epochs=7", "train.num_threads=1", "train.device=cpu",
                                                  "data.num_workers=2", "losses.lbcl.impl=reference", "losses.dbcl.impl=chunked"])
    assert run.resume_spec(same_training) == same_training
    changed = clmlf.load_spec(TINY_CONFIG, ["train.lr=0.5", "model.fusion.num_layers=1"])
    with pytest.raises(SpecError) as error:
        run.resume_spec(changed)
    assert error.value.problems[0].startswith("model.fusion.num_layers: 2 -> 1;")
    assert error.value.problems[1].startswith(f"train.lr: {json.dumps(tiny_spec.train.lr)} -> 0.5;")


def test_spec_conflicts_reports_sections_that_appear_or_vanish(tiny_spec):
    text_only = tiny_spec.model_copy(update={"data": None})
    assert spec_conflicts(tiny_spec, text_only)[0].startswith("data: {")
    assert spec_conflicts(tiny_spec, clmlf.load_spec(TINY_CONFIG, ["train.eval_batch_size=3"])) == []
    longer = clmlf.load_spec(TINY_CONFIG, ["train.epochs=9"])
    assert spec_conflicts(tiny_spec, longer) == [f"train.epochs: {tiny_spec.train.epochs} -> 9"], "a finished run's length counts"


def test_a_new_run_does_not_replace_a_saved_one_unless_asked(tmp_path, tiny_spec):
    run = saved_run(tmp_path, tiny_spec)
    for name in ("state", "checkpoint"):
        (run.root / name).mkdir()
    run.write_metrics({})
    with pytest.raises(FileExistsError, match="--resume to continue it, --overwrite to replace it"):
        run.claim(resume=False, overwrite=False)
    assert run.claim(resume=True, overwrite=False) is False
    assert (run.root / "state").is_dir()
    for name in ("predictions_test.jsonl", "curves.png", "notes.txt"):
        (run.root / name).write_text("old")
    assert run.claim(resume=False, overwrite=True) is True
    assert (run.root / "state").is_dir(), "claiming removes nothing: the new run must get going first"
    run.clear_outputs()
    assert sorted(p.name for p in run.root.iterdir()) == ["config.json", "notes.txt"], "the old run's outputs are gone"
    run.claim(resume=False, overwrite=False)  # a run that never finished an epoch has nothing to lose
    RunDir(tmp_path / "fresh").claim(resume=False, overwrite=False)


def test_running_loss_means_stay_on_the_device_until_read():
    from clmlf.train.trainer import LossTerms

    running = LossTerms()
    values = [0.25, 1.5, 3.0]
    for value in values:
        running.add({"loss": torch.tensor(value, requires_grad=True) * 1, "sc": torch.tensor(value / 2)})
    assert all(isinstance(total, torch.Tensor) and not total.requires_grad for total in running.sums.values())
    assert running.means() == {"loss": sum(values) / 3, "sc": sum(values) / 6}


def perturbed(model: clmlf.CLMLF, shift: float) -> clmlf.CLMLF:
    copy = clmlf.build_model(model.spec).eval()
    copy.load_state_dict(model.state_dict())
    with torch.no_grad():
        for parameter in copy.parameters():
            parameter.add_(shift)
    return copy


def state_objects(model):
    train = TrainSpec(lr=1e-3)
    optimizer = build_optimizer(model, train)
    return optimizer, build_scheduler(optimizer, 10, train)


@pytest.mark.parametrize("crash_at", ["before_rename", "between_renames"])
def test_a_crash_after_the_state_leaves_the_checkpoint_it_records_as_best(tiny_model, tmp_path, monkeypatch, crash_at):
    """Epoch 2 is the new best; the process dies after its state is saved but before its model replaced
    ``checkpoint/``: resuming makes ``checkpoint/`` epoch 2's model, the one the state names (it used to be written
    first, so a crash before the state left a checkpoint one epoch ahead of the recorded best)."""
    run = RunDir(tmp_path)
    first, second = tiny_model, perturbed(tiny_model, 0.5)
    optimizer, scheduler = state_objects(first)
    run.save_state(first, optimizer, scheduler, 1, [{"epoch": 1}], {"epoch": 1, "dev": {"accuracy": 0.5}}, best_model=first)
    assert json.loads((run.checkpoint / "selection.json").read_text()) == {"epoch": 1, "dev": {"accuracy": 0.5}}

    real_replace = os.replace

    def dies_at_the_checkpoint(source, target):
        """The directory renames of the commit: checkpoint -> .checkpoint-previous, .checkpoint-next -> checkpoint."""
        name = os.path.basename(source)
        if name == "checkpoint" and crash_at == "between_renames":
            return real_replace(source, target)  # the old checkpoint moved aside, the new one not yet in place
        if name in ("checkpoint", ".checkpoint-next"):
            raise KeyboardInterrupt
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", dies_at_the_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        run.save_state(second, optimizer, scheduler, 2, [{"epoch": 1}, {"epoch": 2}], {"epoch": 2, "dev": {"accuracy": 0.6}},
                       best_model=second)
    monkeypatch.undo()
    state = run.load_state(first, optimizer, scheduler, torch.device("cpu"))
    assert state["epoch"] == 2 and state["best"]["epoch"] == 2
    run.settle_checkpoint(state["best"]["epoch"])
    torch.testing.assert_close(clmlf.CLMLF.from_pretrained(run.checkpoint).state_dict(), second.state_dict(), rtol=0, atol=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint", "state"]


def test_a_crash_before_the_state_keeps_the_previous_best_checkpoint(tiny_model, tmp_path, monkeypatch):
    """The new best was staged, then the state save failed: the old checkpoint stays, nothing staged is left, and a
    staged model the saved state does not name (a run killed mid-save) is dropped when the run resumes."""
    run = RunDir(tmp_path)
    first, second = tiny_model, perturbed(tiny_model, 0.5)
    optimizer, scheduler = state_objects(first)
    run.save_state(first, optimizer, scheduler, 1, [{"epoch": 1}], {"epoch": 1, "dev": {}}, best_model=first)
    monkeypatch.setattr(torch, "save", lambda *args, **kwargs: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        run.save_state(second, optimizer, scheduler, 2, [{"epoch": 1}, {"epoch": 2}], {"epoch": 2, "dev": {}}, best_model=second)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint", "state"]
    run.stage_checkpoint(second, {"epoch": 2, "dev": {}})  # as if killed (SIGKILL) right after staging
    run.settle_checkpoint(run.load_state(first, optimizer, scheduler, torch.device("cpu"))["best"]["epoch"])
    torch.testing.assert_close(clmlf.CLMLF.from_pretrained(run.checkpoint).state_dict(), first.state_dict(), rtol=0, atol=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint", "state"]
