"""``clmlf ablate --sweep``: one config value over a range (paper Fig. 3: fusion / image layer counts), K seeds each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from clmlf.errors import SpecError
from clmlf.experiments.report import score_table, write_report
from clmlf.experiments.seeds import run_seeds, seed_runs, summarise
from clmlf.spec import ExperimentSpec, list_index, load_spec

SWEEP_KEYS = {"fusion_layers": "model.fusion.num_layers", "image_layers": "model.image_transformer.num_layers"}
USAGE = "expected NAME=A..B or NAME=V1,V2,... (NAME: fusion_layers, image_layers or a dotted config key)"


@dataclass(frozen=True)
class Sweep:
    """``name`` (as typed) sets the config ``key`` to each of ``values``."""

    name: str
    key: str
    values: tuple[Any, ...]


def parse_values(raw: str) -> tuple[Any, ...]:
    """``"1..6"`` -> (1, 2, 3, 4, 5, 6); ``"1,3,5"`` -> (1, 3, 5) (items parsed as YAML)."""
    if ".." in raw:
        low, high = (int(part) for part in raw.split(".."))
        if high < low:
            raise ValueError(raw)
        return tuple(range(low, high + 1))
    values = tuple(yaml.safe_load(item) for item in raw.split(","))
    if any(value is None for value in values):
        raise ValueError(raw)
    return values


def parse_sweep(text: str, base: ExperimentSpec) -> Sweep:
    """``--sweep fusion_layers=1..6`` checked against ``base`` (the swept key's section must exist)."""
    name, _, raw = (part.strip() for part in text.partition("="))
    key = SWEEP_KEYS.get(name, name)
    try:
        values = parse_values(raw)
    except ValueError:
        values = ()
    if not values or "." not in key:
        raise SpecError("--sweep", [f"{text!r}: {USAGE}"])
    node: Any = base.model_dump(mode="json")
    parts = key.split(".")
    for depth in range(1, len(parts)):
        node = _child(node, parts[depth - 1])
        if node is None:
            raise SpecError("--sweep", [f"{name}: the base config has no {'.'.join(parts[:depth])} to sweep {key} in"])
    return Sweep(name, key, values)


def _child(node: Any, part: str) -> Any:
    """``node[part]`` of a mapping, the item ``part`` selects in a list (index or type, as ``--set``), else None."""
    if isinstance(node, dict):
        return node.get(part)
    try:
        return node[list_index(node, part)] if isinstance(node, list) else None
    except ValueError:
        return None


def point_spec(base: ExperimentSpec, sweep: Sweep, value: Any) -> ExperimentSpec:
    return load_spec(base.model_dump(mode="json"), [f"{sweep.key}={value}", f"name={base.name}-{sweep.name}-{value}"])


def sweep_runs(base: ExperimentSpec, sweep: Sweep, out: Path, seeds: int) -> list[tuple[ExperimentSpec, Path]]:
    """Every run :func:`run_sweep` trains, value after value: (spec, ``out/<name>-<value>/seed<k>``)."""
    specs = [point_spec(base, sweep, value) for value in sweep.values]
    return [run for value, spec in zip(sweep.values, specs) for run in seed_runs(spec, out / f"{sweep.name}-{value}", seeds)]


def run_sweep(base: ExperimentSpec, sweep: Sweep, out: Path, seeds: int, progress: bool = True) -> dict:
    """Every value over ``seeds`` seeds in ``out/<name>-<value>/seed<k>/``; writes (after every value) ``sweep.json``,
    ``sweep.md`` and ``sweep.png`` (accuracy and F1 against the value, mean ± std). Returns the ``sweep.json`` payload."""
    from clmlf.experiments.figures import plot_sweep

    specs = [point_spec(base, sweep, value) for value in sweep.values]  # every point validates before any training
    points = []
    for value, spec in zip(sweep.values, specs):
        runs = run_seeds(spec, out / f"{sweep.name}-{value}", seeds, progress)
        points.append({"value": value, **summarise(runs)})
        payload = {"base": base.name, "parameter": sweep.name, "key": sweep.key, "dataset": runs[0]["dataset"],
                   "f1_average": runs[0]["f1_average"], "points": points}
        title = (f"{sweep.name} sweep of {base.name} on {payload['dataset']}: "
                 "test scores at the best dev epoch, mean ± std over seeds")
        labels = [str(point["value"]) for point in points]
        write_report(out, "sweep", payload, title, score_table(sweep.name, labels, points, payload["f1_average"]))
        plot_sweep(payload, out / "sweep.png")
    return payload
