"""Write an experiment's summaries: JSON next to a markdown table (``<name>.json`` / ``<name>.md``)."""

from __future__ import annotations

import json
from pathlib import Path

from clmlf.train.run_dir import write_atomic


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


def score_table(first: str, labels: list[str], summaries: list[dict], f1_average: str) -> str:
    """One line per summary (from :func:`clmlf.experiments.seeds.summarise`): test accuracy and F1 as mean ± std
    (the mean alone for one seed)."""
    header = [first, "accuracy", f"{f1_average} F1", "seeds", "device", "wall time"]
    rows = [
        [label, mean_std(s["accuracy_mean"], s["accuracy_std"]), mean_std(s["f1_mean"], s["f1_std"]),
         str(s["seeds"]), s["device"], f"{s['wall_s']:.1f} s"]
        for label, s in zip(labels, summaries)
    ]
    return markdown_table(header, rows)


def mean_std(mean: float, std: float | None, digits: int = 4) -> str:
    """``"0.7138 ± 0.0142"``, or the mean alone when the std is undefined (one seed)."""
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def write_report(folder: Path, name: str, payload: dict, title: str, table: str) -> list[Path]:
    """``folder/name.json`` (``payload``) and ``folder/name.md`` (``title`` + ``table``); returns both paths."""
    paths = [folder / f"{name}.json", folder / f"{name}.md"]
    write_atomic(paths[0], json.dumps(payload, indent=2))
    write_atomic(paths[1], f"# {title}\n\n{table}")
    return paths
