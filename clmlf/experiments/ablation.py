"""``clmlf ablate``: the Table-3 ladder from one base config, K seeds per row, summarised in ``ablation.json`` / ``.md``."""

from __future__ import annotations

from pathlib import Path

from clmlf.experiments.report import score_table, write_report
from clmlf.experiments.rows import row_spec, select_rows
from clmlf.experiments.seeds import run_seeds, summarise
from clmlf.spec import ExperimentSpec


def ablate(base: ExperimentSpec, out: Path, seeds: int, rows: list[str] | None = None, progress: bool = True) -> dict:
    """Train every row (all row specs are validated first) over ``seeds`` seeds in ``out/<row>/seed<k>/``.

    Returns ``{"base", "dataset", "f1_average", "rows": [{"name", "description", "accuracy_mean", "accuracy_std",
    "f1_mean", "f1_std", "seeds", "device", "wall_s", "runs"}]}``, also written (after every row) to ``out/ablation.json``.
    """
    selected = select_rows(base, rows)
    specs = [row_spec(base, row) for row in selected]
    summaries = []
    for row, spec in zip(selected, specs):
        runs = run_seeds(spec, out / row.name, seeds, progress)
        summaries.append({"name": row.name, "description": row.description, **summarise(runs)})
        payload = {"base": base.name, "dataset": runs[0]["dataset"], "f1_average": runs[0]["f1_average"], "rows": summaries}
        title = f"Ablation of {base.name} on {payload['dataset']}: test scores at the best dev epoch, mean ± std over seeds"
        labels = [f"`{s['name']}`: {s['description']}" for s in summaries]
        write_report(out, "ablation", payload, title, score_table("row", labels, summaries, payload["f1_average"]))
    return payload
