"""One spec over K seeds (``train.seed + k``), each a normal run in ``folder/seed<k>/``, and their mean ± std.

Resumable: a run whose ``metrics.json`` has test metrics is reused (after checking it was trained from the same
spec); an interrupted one continues from its last finished epoch; a missing one is trained.
"""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path

from clmlf.errors import SpecError
from clmlf.spec import ExperimentSpec
from clmlf.train.run_dir import RunDir, read_json, spec_conflicts
from clmlf.train.trainer import train

logger = logging.getLogger("clmlf")


def seeded(spec: ExperimentSpec, offset: int) -> ExperimentSpec:
    """``spec`` with ``train.seed`` moved on by ``offset``."""
    return spec.model_copy(update={"train": spec.train.model_copy(update={"seed": spec.train.seed + offset})})


def finished_metrics(folder: Path, spec: ExperimentSpec) -> dict | None:
    """The ``metrics.json`` of a finished run of ``spec`` in ``folder`` (None when absent or unfinished)."""
    path = folder / "metrics.json"
    if not path.is_file():
        return None
    metrics = read_json(path)
    if not metrics.get("test"):
        return None
    conflicts = spec_conflicts(RunDir(folder).read_spec(), spec)
    if conflicts:
        raise SpecError(str(folder / "config.json"), [f"{line}: a finished run there was trained with the first value; "
                                                      "use a new --out" for line in conflicts])
    return metrics


def seed_runs(spec: ExperimentSpec, folder: Path, count: int) -> list[tuple[ExperimentSpec, Path]]:
    """The ``count`` runs of ``spec``: (``spec`` seeded ``train.seed + k``, ``folder/seed<k>``) for k = 0..count-1."""
    return [(seeded(spec, offset), folder / f"seed{offset}") for offset in range(count)]


def train_or_reuse(spec: ExperimentSpec, run_dir: Path, progress: bool = True) -> dict:
    """The metrics of the run of ``spec`` in ``run_dir``: reused when finished, else trained (resumed if started),
    with its ``seed`` and ``run_dir``."""
    metrics = finished_metrics(run_dir, spec)
    if metrics is None:
        logger.info("%s: training (seed %d)", run_dir, spec.train.seed)
        metrics = train(spec, run_dir, resume=(run_dir / "config.json").is_file(), progress=progress)
    else:
        logger.info("%s: finished earlier; reusing its metrics", run_dir)
    return {**metrics, "seed": spec.train.seed, "run_dir": str(run_dir)}


def run_seeds(spec: ExperimentSpec, folder: Path, count: int, progress: bool = True) -> list[dict]:
    """Train (or reuse) ``count`` seeds of ``spec`` under ``folder``; returns their metrics, seed order."""
    return [train_or_reuse(run_spec, run_dir, progress) for run_spec, run_dir in seed_runs(spec, folder, count)]


def summarise(runs: list[dict]) -> dict:
    """Test accuracy / F1 mean and sample std over seeds (None for one seed: undefined), devices, summed wall time,
    per-run scores."""
    accuracy = [run["test"]["accuracy"] for run in runs]
    f1 = [run["test"]["f1"] for run in runs]
    spread = statistics.stdev if len(runs) > 1 else (lambda values: None)
    return {
        "accuracy_mean": statistics.fmean(accuracy),
        "accuracy_std": spread(accuracy),
        "f1_mean": statistics.fmean(f1),
        "f1_std": spread(f1),
        "seeds": len(runs),
        "device": ", ".join(sorted({run["device"] for run in runs})),
        "wall_s": sum(run["wall_s"] for run in runs),
        "runs": [{"seed": run["seed"], "dir": run["run_dir"], "best_epoch": run["best_epoch"], **run["test"]} for run in runs],
    }
