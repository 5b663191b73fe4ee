"""The full row's seed-by-seed differences in an ablation summary, against plain Python on made-up scores."""

from __future__ import annotations

import math

import pytest

from clmlf.experiments.paired import paired_differences, paired_table


def row(name: str, scores: dict[int, tuple[float, float]]) -> dict:
    """An ablation summary row with per-seed (accuracy, F1) test scores."""
    return {"name": name, "runs": [{"seed": seed, "accuracy": a, "f1": f} for seed, (a, f) in scores.items()]}


def sample_std(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def test_differences_are_paired_by_seed_value_not_position():
    clmlf_row = row("clmlf", {42: (0.72, 0.71), 43: (0.73, 0.70), 44: (0.70, 0.69)})
    late = row("late_fusion", {44: (0.71, 0.66), 42: (0.70, 0.72), 43: (0.73, 0.69)})  # other order
    text = row("text_only", {43: (0.69, 0.68), 45: (0.80, 0.80)})                     # shares one seed only
    image = row("image_only", {46: (0.60, 0.55)})                                      # shares none: left out
    paired = paired_differences([text, image, late, clmlf_row])
    assert paired["reference"] == "clmlf" and [r["against"] for r in paired["rows"]] == ["text_only", "late_fusion"]
    vs_text, vs_late = paired["rows"]
    accuracy, f1 = [0.72 - 0.70, 0.73 - 0.73, 0.70 - 0.71], [0.71 - 0.72, 0.70 - 0.69, 0.69 - 0.66]
    assert vs_late["seeds"] == [44, 42, 43]
    assert vs_late["accuracy_diff_mean"] == pytest.approx(sum(accuracy) / 3)
    assert vs_late["accuracy_diff_std"] == pytest.approx(sample_std(accuracy))
    assert vs_late["f1_diff_mean"] == pytest.approx(sum(f1) / 3) and vs_late["f1_diff_std"] == pytest.approx(sample_std(f1))
    assert (vs_late["ahead"], vs_late["ties"]) == (1, 1)
    assert vs_text["seeds"] == [43] and vs_text["accuracy_diff_mean"] == pytest.approx(0.04) and vs_text["accuracy_diff_std"] is None
    assert (vs_text["ahead"], vs_text["ties"]) == (1, 0)


def test_the_text_ladder_compares_its_full_row_and_a_summary_without_one_has_none():
    paired = paired_differences([row("text_only", {42: (0.70, 0.60)}), row("text_lbcl_dbcl", {42: (0.66, 0.55)})])
    assert paired["reference"] == "text_lbcl_dbcl" and paired["rows"][0]["accuracy_diff_mean"] == pytest.approx(-0.04)
    assert paired_differences([row("text_only", {42: (0.7, 0.6)}), row("late_fusion", {42: (0.7, 0.6)})]) is None


def test_the_table_reads_in_signed_points():
    paired = paired_differences([row("late_fusion", {42: (0.70, 0.70), 43: (0.74, 0.69)}),
                                 row("clmlf", {42: (0.72, 0.71), 43: (0.73, 0.69)})])
    table = paired_table(paired, "weighted")
    assert "| `late_fusion` | +0.50 ± 2.12 | +0.50 ± 0.71 | 1 of 2 |" in table
    assert "clmlf ahead in (accuracy)" in table and "weighted F1 (points)" in table
