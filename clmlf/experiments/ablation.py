"""``clmlf ablate``: the Table-3 ladder from one base config, K seeds per row, summarised in ``ablation.json`` / ``.md``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from clmlf.experiments.paired import paired_differences, paired_table
from clmlf.experiments.report import score_table, write_report
from clmlf.experiments.rows import ROWS, row_spec, select_rows
from clmlf.experiments.seeds import run_seeds, seed_runs, seeded, summarise
from clmlf.spec import ExperimentSpec
from clmlf.train.run_dir import RunDir, spec_conflicts

logger = logging.getLogger("clmlf")


def ablate(base: ExperimentSpec, out: Path, seeds: int, rows: list[str] | None = None, progress: bool = True) -> dict:
    """Train every row (all row specs are validated first) over ``seeds`` seeds in ``out/<row>/seed<k>/``.

    Returns ``{"base", "dataset", "f1_average", "rows": [{"name", "description", "accuracy_mean", "accuracy_std",
    "f1_mean", "f1_std", "seeds", "device", "wall_s", "runs"}], "paired": ...}``, also written (after every row) to
    ``out/ablation.json``; ``paired`` holds the full row minus every other row, seed by seed
    (:func:`clmlf.experiments.paired.paired_differences`; None until a full row has run). After every row it also
    writes ``out/ablation.md`` and draws ``out/ablation.png`` (scores per row: every seed, mean ± std).
    """
    from clmlf.experiments.figures import plot_ablation

    selected = select_rows(base, rows)
    specs = [row_spec(base, row) for row in selected]
    summaries = earlier_rows(base, out, {row.name for row in selected})
    for row, spec in zip(selected, specs):
        runs = run_seeds(spec, out / row.name, seeds, progress)
        summaries[row.name] = {"name": row.name, "description": row.description, **summarise(runs)}
        ordered = [summaries[name] for name in ROWS if name in summaries]
        payload = {"base": base.name, "dataset": runs[0]["dataset"], "f1_average": runs[0]["f1_average"],
                   "rows": ordered, "paired": paired_differences(ordered)}
        write_report(out, "ablation", payload, *ablation_markdown(payload))
        plot_ablation(payload, out / "ablation.png")
    return payload


def ablation_runs(base: ExperimentSpec, out: Path, seeds: int, rows: list[str] | None = None) -> list[tuple[ExperimentSpec, Path]]:
    """Every run :func:`ablate` trains, row after row: (spec, ``out/<row>/seed<k>``); all row specs validate first."""
    specs = {row.name: row_spec(base, row) for row in select_rows(base, rows)}
    return [run for name, spec in specs.items() for run in seed_runs(spec, out / name, seeds)]


def ablation_markdown(payload: dict) -> tuple[str, str]:
    """The title and tables of ``ablation.md``: scores per row, then the full row's paired differences (if any)."""
    title = f"Ablation of {payload['base']} on {payload['dataset']}: test scores at the best dev epoch, mean ± std over seeds"
    labels = [f"`{s['name']}`: {s['description']}" for s in payload["rows"]]
    tables = score_table("row", labels, payload["rows"], payload["f1_average"])
    paired = payload["paired"]
    if paired and paired["rows"]:
        tables += (f"\n`{paired['reference']}` minus each row, paired by seed (test scores of the seeds both ran; "
                   f"mean ± std of the per-seed differences):\n\n" + paired_table(paired, payload["f1_average"]))
    return title, tables


def earlier_rows(base: ExperimentSpec, out: Path, rerun: set[str]) -> dict[str, dict]:
    """Rows of an earlier ``ablation.json`` in ``out`` that this call does not run, kept while their runs are
    still the same base's (so ``--rows`` adds to the summary instead of replacing it)."""
    path = out / "ablation.json"
    if not path.is_file():
        return {}
    kept = {}
    for summary in json.loads(path.read_text()).get("rows", []):
        name = summary.get("name")
        if name in rerun or name not in ROWS:
            continue
        config = out / name / "seed0"
        if not (config / "config.json").is_file():
            logger.warning("%s: dropping row %s from the summary: %s is gone", path, name, config)
        elif spec_conflicts(RunDir(config).read_spec(), seeded(row_spec(base, ROWS[name]), 0)):
            logger.warning("%s: dropping row %s from the summary: its runs are from another base config", path, name)
        else:
            kept[name] = summary
    return kept
