"""A run directory: ``config.json``, ``metrics.json``, ``checkpoint/`` (best dev, loadable with
``CLMLF.from_pretrained``, with ``selection.json``: its epoch and dev metrics; its model card ``README.md`` lists the
test results once the run finished), ``state/`` (last finished epoch, for ``--resume``), predictions, PNG plots and
``tensorboard/`` (event files, :mod:`clmlf.train.tracking`). Every file but the event files is written atomically
(temporary file + rename), so a crash or Ctrl-C never leaves a torn file; a new best checkpoint replaces the old one
only after the state that records it, so a resumed run never tests a checkpoint other than the best epoch it records."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from clmlf.errors import SpecError
from clmlf.losses.criterion import logged_names
from clmlf.model_card import CARD_NAME, CardResults, is_clmlf_card, model_card
from clmlf.spec import ExperimentSpec, validate_spec
from clmlf.storage import writing

STATE_FILE = "trainer.pt"
WEIGHTS_FILE = "model.safetensors"
"""The weights in ``state/`` (and in ``checkpoint/`` for a model without ``save_pretrained``)."""
SELECTION_FILE = "selection.json"
"""In ``checkpoint/``: the epoch whose model it holds and that epoch's dev metrics."""
STAGED_CHECKPOINT, PREVIOUS_CHECKPOINT = ".checkpoint-next", ".checkpoint-previous"
LEGACY_VIEW_SIZE = 224
"""The augmentation ``image_size`` that configs saved before 2026-11-28 hold when it was left unset."""
SAVED_OUTPUTS = ("state", ".state-previous", "checkpoint", "metrics.json")
"""What a run has saved once an epoch finished (config.json alone is written at the start)."""

EXECUTION_FIELDS: dict[str, frozenset[str]] = {
    "train": frozenset({"eval_batch_size", "device", "bf16", "bf16_cpu", "num_threads", "compile", "compile_options",
                        "dist_backend", "dist_timeout_min", "deterministic", "tensorboard", "log_every"}),
    "data": frozenset({"root", "num_workers", "feature_cache_dir"}),
    "losses": frozenset({"impl"}),
}
"""Fields that say how a run executes, not what it learns: a finished run is reused, and a run resumed, across them
(``losses``: the fields of every loss term)."""
RESUMABLE: dict[str, frozenset[str]] = {**EXECUTION_FIELDS, "train": EXECUTION_FIELDS["train"] | {"epochs"}}
"""What ``--resume`` may change: the execution fields, and ``train.epochs`` (not below the epochs already trained)."""


def spec_conflicts(saved: ExperimentSpec, new: ExperimentSpec, allowed: dict[str, frozenset[str]] = EXECUTION_FIELDS) -> list[str]:
    """``"section.path: saved -> new"`` for every value of model, data, train or losses that differs, except the
    ``allowed`` fields (for ``losses``: those of every term; the name is free). Loss terms are compared by type
    (``losses.lbcl.temperature``), and terms with weight 0 are left out: they train nothing."""
    before, after = saved.model_dump(mode="json"), new.model_dump(mode="json")
    lines = []
    for section in ("model", "data", "train", "losses"):
        old, now = (_comparable(dump[section], allowed.get(section, frozenset())) for dump in (before, after))
        lines += _differences(old, now, section)
    return lines


def _comparable(section, allowed: frozenset[str]):
    """A mapping section without its ``allowed`` keys; the loss list as ``{type: term}`` of its weighted terms."""
    if isinstance(section, list):
        names = logged_names([term["type"] for term in section], aliases={})
        section = {name: term for name, term in zip(names, section) if term["weight"] > 0}
        return {name: _comparable(term, allowed) for name, term in section.items()}
    if isinstance(section, dict):
        return {key: value for key, value in section.items() if key not in allowed}
    return section


def _differences(old, new, path: str) -> list[str]:
    """Dotted paths where two JSON values differ (into nested mappings), each with both values."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [line for key in sorted(old.keys() | new.keys()) for line in _differences(old.get(key), new.get(key), f"{path}.{key}")]
    return [] if old == new else [f"{path}: {json.dumps(old)} -> {json.dumps(new)}"]


def saved_view_size(config: dict) -> dict:
    """A saved config with the augmentation's ``image_size`` as today's specs write it: None (= data.image_size).
    Configs saved before 2026-11-28 hold the old default 224 there, or the data size itself; the pipeline then
    trained at data.image_size unless the size was set on purpose, which a saved config cannot tell apart."""
    data = config.get("data") if isinstance(config, dict) else None
    augmentation = data.get("augmentation") if isinstance(data, dict) else None
    if isinstance(augmentation, dict) and augmentation.get("image_size") in (LEGACY_VIEW_SIZE, data.get("image_size")):
        return {**config, "data": {**data, "augmentation": {**augmentation, "image_size": None}}}
    return config


def default_mode(directory: bool = False) -> int:
    """The permissions a plainly created file (0666) or directory (0777) gets under the process umask: temporary
    files and directories start private (0600 / 0700), and run outputs should not stay so."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def read_json(path: Path):
    """A run file's JSON; a damaged file (torn by hand, or by a copy) is a ValueError naming it and the fix."""
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error}); the file is damaged: restore it from a copy of the run, or "
                         "train the run again (clmlf train --overwrite)") from None


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``path`` whole or not at all (a failed write leaves the old file and no temporary one: a StorageError)."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as handle:
            temporary = Path(handle.name)
            try:
                handle.write(data.encode() if isinstance(data, str) else data)
                handle.close()
                os.chmod(temporary, default_mode())
                os.replace(temporary, path)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise


def save_model_files(model, directory: Path) -> None:
    """``model.save_pretrained(directory)`` where the model has one, else its state dict as ``model.safetensors``."""
    if hasattr(model, "save_pretrained"):
        model.save_pretrained(directory)
        return
    from safetensors.torch import save_model

    directory.mkdir(parents=True, exist_ok=True)
    save_model(model, str(directory / WEIGHTS_FILE))


def load_model_files(model, directory: Path) -> None:
    """Load what :func:`save_model_files` wrote into ``model`` (through ``from_pretrained`` where its class has both)."""
    if hasattr(model, "save_pretrained") and hasattr(type(model), "from_pretrained"):
        model.load_state_dict(type(model).from_pretrained(directory).state_dict())
        return
    from safetensors.torch import load_model

    load_model(model, str(directory / WEIGHTS_FILE), device=str(next(model.parameters()).device))


def checkpoint_epoch(directory: Path) -> int | None:
    """The epoch whose model a checkpoint directory holds (None for checkpoints saved before selection.json)."""
    path = directory / SELECTION_FILE
    return read_json(path).get("epoch") if path.is_file() else None


class RunDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def tensorboard(self) -> Path:
        """TensorBoard's event files (:mod:`clmlf.train.tracking`)."""
        return self.root / "tensorboard"

    def write_config(self, spec: ExperimentSpec) -> None:
        write_atomic(self.root / "config.json", json.dumps(spec.model_dump(mode="json"), indent=2))

    def read_spec(self) -> ExperimentSpec:
        path = self.root / "config.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: {self.root} is not a clmlf run directory (made by `clmlf train --out`)")
        return validate_spec(ExperimentSpec, saved_view_size(read_json(path)), str(path))

    def resume_spec(self, spec: ExperimentSpec) -> ExperimentSpec:
        """``spec`` if it may continue the run saved here: only the fields in :data:`RESUMABLE` may differ."""
        if not (self.root / "config.json").is_file():
            return spec
        conflicts = spec_conflicts(self.read_spec(), spec, RESUMABLE)
        if conflicts:
            raise SpecError(str(self.root / "config.json"), [f"{line}; the run being resumed used the first value: "
                                                             "drop the change, or train into a new --out" for line in conflicts])
        return spec

    def claim(self, resume: bool, overwrite: bool) -> bool:
        """Refuse to start a new run over a saved one (a finished epoch: state, checkpoint or metrics) unless
        ``resume`` or ``overwrite``; returns whether a saved run is to be replaced (:meth:`clear_outputs`, called once
        the new run is known to start)."""
        saved = [name for name in SAVED_OUTPUTS if (self.root / name).exists()]
        if resume or not saved:
            return False
        if not overwrite:
            raise FileExistsError(f"{self.root} already holds a run ({', '.join(saved)}): pass --resume to continue it, "
                                  "--overwrite to replace it, or a new --out")
        return True

    def clear_outputs(self) -> None:
        """Remove a saved run's outputs: state, checkpoint, metrics, predictions, plots and TensorBoard events
        (``--overwrite``)."""
        scratch = [self.root / name for name in (*SAVED_OUTPUTS, STAGED_CHECKPOINT, PREVIOUS_CHECKPOINT, "tensorboard")]
        for path in scratch + [*self.root.glob("predictions_*.jsonl"), *self.root.glob("*.png")]:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()

    def clear_staging(self) -> None:
        """Remove what a killed run left half-written: ``.state-XXXXXXXX/`` folders and temporary files (the lock is held)."""
        for path in [*self.root.glob(".state-*"), *self.root.glob(".*.tmp")]:
            if path.name == ".state-previous":
                continue
            shutil.rmtree(path) if path.is_dir() else path.unlink()

    def recorded_wall_s(self) -> float:
        """The wall time ``metrics.json`` records so far (0 without one)."""
        path = self.root / "metrics.json"
        return float(read_json(path).get("wall_s") or 0.0) if path.is_file() else 0.0

    def write_metrics(self, metrics: dict) -> None:
        write_atomic(self.root / "metrics.json", json.dumps(metrics, indent=2))

    def write_card(self, summary: dict) -> None:
        """Rewrite ``checkpoint/README.md`` with the test results of ``summary`` (the final ``metrics.json``), where
        the model's ``save_pretrained`` wrote a clmlf model card there."""
        card = self.checkpoint / CARD_NAME
        if is_clmlf_card(card):
            config = read_json(self.checkpoint / "config.json")
            write_atomic(card, str(model_card(config, CardResults.from_summary(summary))))

    def save_state(self, model, optimizer, scheduler, epoch: int, history: list, best: dict | None, ema=None,
                   best_model=None) -> None:
        """Model weights + optimizer/scheduler (+ weight-average ``ema``) state after ``epoch``; swapped in as a whole
        directory. ``best_model``: this epoch's model when it is the new best (``best`` names this epoch): written first,
        it replaces ``checkpoint/`` once the state is saved (a crash in between is settled by :meth:`settle_checkpoint`)."""
        if best_model is not None:
            self.stage_checkpoint(best_model, best)
        with writing(self.state):
            scratch = Path(tempfile.mkdtemp(dir=self.root, prefix=".state-"))
            try:
                from safetensors.torch import save_model

                os.chmod(scratch, default_mode(directory=True))
                save_model(model, str(scratch / WEIGHTS_FILE))
                payload = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                           "epoch": epoch, "history": json.dumps(history), "best": json.dumps(best)}
                if ema is not None:
                    payload["ema"] = ema.state_dict()
                torch.save(payload, scratch / STATE_FILE)
            except BaseException:  # a full disk or Ctrl-C mid-write: keep the last complete state, leave no partial one
                shutil.rmtree(scratch, ignore_errors=True)
                shutil.rmtree(self.root / STAGED_CHECKPOINT, ignore_errors=True)
                raise
        self._swap_in(scratch, self.state, self.root / ".state-previous")
        if best_model is not None:
            self.commit_checkpoint()

    def stage_checkpoint(self, model, best: dict) -> None:
        """Write ``model`` (the epoch ``best`` names, with its dev metrics) to ``.checkpoint-next/``."""
        staged = self.root / STAGED_CHECKPOINT
        shutil.rmtree(staged, ignore_errors=True)
        try:
            with writing(self.checkpoint):
                save_model_files(model, staged)
                write_atomic(staged / SELECTION_FILE, json.dumps(best, indent=2))
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise

    def commit_checkpoint(self) -> None:
        """Make the staged model ``checkpoint/``."""
        self._swap_in(self.root / STAGED_CHECKPOINT, self.checkpoint, self.root / PREVIOUS_CHECKPOINT)

    def settle_checkpoint(self, best_epoch: int | None) -> None:
        """Before a resumed run goes on: a staged model the last run left behind becomes ``checkpoint/`` if the saved
        state names its epoch as the best (the crash came after the state was saved), and is dropped otherwise."""
        staged = self.root / STAGED_CHECKPOINT
        if staged.is_dir():
            if best_epoch is not None and checkpoint_epoch(staged) == best_epoch:
                self.commit_checkpoint()
            else:
                shutil.rmtree(staged)
        previous = self.root / PREVIOUS_CHECKPOINT
        if previous.is_dir() and not self.checkpoint.exists():
            os.replace(previous, self.checkpoint)
        shutil.rmtree(previous, ignore_errors=True)

    @staticmethod
    def _swap_in(new: Path, target: Path, previous: Path) -> None:
        """Replace the directory ``target`` by ``new``; the old one waits in ``previous`` until ``new`` is in place."""
        if target.exists():
            shutil.rmtree(previous, ignore_errors=True)
            os.replace(target, previous)
        os.replace(new, target)
        shutil.rmtree(previous, ignore_errors=True)

    def load_state(self, model, optimizer, scheduler, device, ema=None) -> dict | None:
        from safetensors.torch import load_model

        folder = self.state if self.state.is_dir() else self.root / ".state-previous"
        if not (folder / STATE_FILE).is_file():
            return None
        payload = torch.load(folder / STATE_FILE, map_location=device, weights_only=True)
        load_model(model, str(folder / WEIGHTS_FILE), device=str(device))
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        if ema is not None:
            if "ema" not in payload:
                raise ValueError(f"{folder}: this run kept no weight average; resume it without train.ema_decay")
            ema.load_state_dict(payload["ema"])
        return {"epoch": payload["epoch"], "history": json.loads(payload["history"]), "best": json.loads(payload["best"])}

    def write_predictions(self, split: str, evaluation, label_names) -> None:
        lines = [
            json.dumps({"id": sample_id, "label": label_names[int(gold)], "prediction": label_names[int(pred)],
                        "probabilities": [round(float(p), 5) for p in probs]})
            for sample_id, gold, pred, probs in zip(evaluation.ids, evaluation.labels, evaluation.predictions, evaluation.probabilities)
        ]
        write_atomic(self.root / f"predictions_{split}.jsonl", "\n".join(lines) + "\n")

    def write_figures(self, figures: dict) -> None:
        """``{name: matplotlib Figure}`` as ``<name>.png`` (:func:`clmlf.train.plots.run_figures`)."""
        with writing(self.root):
            for name, figure in figures.items():
                figure.savefig(self.root / f"{name}.png", dpi=110)
