"""Seed-by-seed differences between ablation rows: the full model minus each other row, over the seeds both ran.

Every row of ``clmlf ablate`` trains seed ``train.seed + k`` from the same data order, so the difference per seed
drops part of what one seed's draw adds to both rows; its mean ± std and how often the full model is ahead can
separate rows that two means ± std side by side cannot (the paper's claims are such differences: CLMLF over late
fusion, over text-only).
"""

from __future__ import annotations

import statistics

from clmlf.experiments.report import markdown_table, mean_std

FULL_ROWS = ("clmlf", "text_lbcl_dbcl")


def paired_differences(summaries: list[dict]) -> dict | None:
    """``{"reference", "rows": [{"against", "seeds", "accuracy_diff_mean", "accuracy_diff_std", "f1_diff_mean",
    "f1_diff_std", "ahead", "ties"}]}`` for the full row (``clmlf``, else ``text_lbcl_dbcl``) against every other row of
    ``summaries`` (rows of :func:`clmlf.experiments.seeds.summarise` with a ``name``). Differences are reference minus
    row on test scores, paired by seed value; ``ahead`` / ``ties`` count seeds by accuracy; the std is None below two
    shared seeds. None when no full row is present; rows sharing no seed with it are left out."""
    by_name = {summary["name"]: summary for summary in summaries}
    reference = next((name for name in FULL_ROWS if name in by_name), None)
    if reference is None:
        return None
    rows = [compare(by_name[reference], summary) for summary in summaries if summary["name"] != reference]
    return {"reference": reference, "rows": [row for row in rows if row is not None]}


def compare(reference: dict, other: dict) -> dict | None:
    """``reference`` minus ``other`` per shared seed (see :func:`paired_differences`)."""
    ours = {run["seed"]: run for run in reference["runs"]}
    shared = [(ours[run["seed"]], run) for run in other["runs"] if run["seed"] in ours]
    if not shared:
        return None
    spread = statistics.stdev if len(shared) > 1 else (lambda values: None)
    accuracy = [mine["accuracy"] - theirs["accuracy"] for mine, theirs in shared]
    f1 = [mine["f1"] - theirs["f1"] for mine, theirs in shared]
    return {
        "against": other["name"],
        "seeds": [theirs["seed"] for _, theirs in shared],
        "accuracy_diff_mean": statistics.fmean(accuracy),
        "accuracy_diff_std": spread(accuracy),
        "f1_diff_mean": statistics.fmean(f1),
        "f1_diff_std": spread(f1),
        "ahead": sum(difference > 0 for difference in accuracy),
        "ties": sum(difference == 0 for difference in accuracy),
    }


def paired_table(paired: dict, f1_average: str) -> str:
    """Markdown: one line per compared row, differences in points (signed mean ± std), seeds ahead by accuracy."""
    header = ["against", "accuracy (points)", f"{f1_average} F1 (points)", f"{paired['reference']} ahead in (accuracy)"]
    rows = [
        [f"`{row['against']}`", signed_points(row["accuracy_diff_mean"], row["accuracy_diff_std"]),
         signed_points(row["f1_diff_mean"], row["f1_diff_std"]),
         f"{row['ahead']} of {len(row['seeds'])}" + (f" ({row['ties']} tied)" if row["ties"] else "")]
        for row in paired["rows"]
    ]
    return markdown_table(header, rows)


def signed_points(mean: float, std: float | None) -> str:
    """A difference of scores in points with its sign: ``"+1.56 ± 1.98"``."""
    text = mean_std(100 * mean, None if std is None else 100 * std, digits=2)
    return ("+" if mean >= 0 else "") + text
