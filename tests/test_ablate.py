"""``clmlf ablate``: every row's spec transformation builds a working model; the ladder and a sweep run end to end."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

import clmlf
from clmlf.cli import main
from clmlf.errors import SpecError
from clmlf.experiments import seeds
from clmlf.experiments.ablation import ablation_runs
from clmlf.experiments.rows import IMAGE_LADDER, ROWS, TEXT_LADDER, row_spec, select_rows
from clmlf.experiments.shards import Shard, parse_shard
from clmlf.experiments.sweep import parse_sweep, point_spec, sweep_runs
from conftest import TINY_CONFIG, TINY_RUN, has_real_data, tiny_batch

data = pytest.mark.skipif(not has_real_data(), reason="real data (../shared/data) absent")


@pytest.mark.parametrize("name", list(ROWS))
def test_every_row_builds_a_model_that_runs(tiny_spec, name):
    row = ROWS[name]
    spec = row_spec(tiny_spec, row)
    model = clmlf.build_model(spec).eval()
    batch = tiny_batch()
    if model.image_encoder is None:
        batch.pop("pixel_values")
    with torch.no_grad():
        out = model(**batch)
    assert out.logits.shape == (2, 3) and torch.isfinite(out.logits).all()
    assert spec.name == f"tiny-{name}"
    weighted = {term.type for term in spec.losses if term.weight > 0}
    assert weighted == {"cross_entropy"} | {name for name in ("lbcl", "dbcl") if getattr(row, name)}
    assert (model.projection is not None) == (row.lbcl or row.dbcl)
    assert (model.augmented_projection is not None) == row.dbcl
    assert (model.image_encoder is not None) == row.needs_images
    assert spec.data == tiny_spec.data and spec.train == tiny_spec.train


def test_row_architectures(tiny_spec):
    names = ("text_only", "image_only", "late_fusion", "mlf")
    models = {name: clmlf.build_model(row_spec(tiny_spec, ROWS[name])).eval() for name in names}
    assert models["text_only"].fusion is None and type(models["text_only"].pooler).__name__ == "CLSPooling"
    assert models["mlf"].spec == tiny_spec.model.model_copy(update={"projection": None, "augmented_projection": None})
    batch = tiny_batch()
    with torch.no_grad():
        late = models["late_fusion"](**batch)
        image = models["image_only"](**batch)
        other_text = models["image_only"](**{**batch, "input_ids": batch["input_ids"].flip(1)})
    assert late.fused.shape == (2, 1, 32) and late.attention is None
    torch.testing.assert_close(image.logits, other_text.logits)  # image only: the text changes nothing
    with pytest.raises(ValueError, match="needs image tokens"):
        models["late_fusion"].fusion(torch.randn(2, 4, 32), torch.ones(2, 4, dtype=torch.bool))


def test_ladder_follows_the_dataset(tiny_spec):
    assert [row.name for row in select_rows(tiny_spec, None)] == list(IMAGE_LADDER)
    text_dataset = clmlf.load_spec(TINY_CONFIG, ["data.dataset.type=hfm", "model.num_classes=2"])
    assert [row.name for row in select_rows(text_dataset, None)] == list(TEXT_LADDER)
    with pytest.raises(SpecError, match="mlf needs images") as error:
        select_rows(text_dataset, ["text_only", "mlf", "nope"])
    assert "unknown row 'nope'" in str(error.value)


def test_sweep_argument_errors(tiny_spec):
    assert parse_sweep("fusion_layers=1..3", tiny_spec).values == (1, 2, 3)
    assert parse_sweep("model.fusion.num_heads=1,2", tiny_spec).key == "model.fusion.num_heads"
    dbcl_weights = parse_sweep("losses.dbcl.weight=0.1,0.3", tiny_spec)  # a loss term, selected by its type
    assert [point_spec(tiny_spec, dbcl_weights, value).losses[2].weight for value in dbcl_weights.values] == [0.1, 0.3]
    with pytest.raises(SpecError, match="no losses.focal"):
        parse_sweep("losses.focal.weight=1,2", tiny_spec)
    for bad in ("fusion_layers=3..1", "fusion_layers=1..x", "layers=1,2", "fusion_layers="):
        with pytest.raises(SpecError, match="expected NAME=A..B"):
            parse_sweep(bad, tiny_spec)
    no_image_transformer = clmlf.load_spec(TINY_CONFIG, ["model.image_transformer=null"])
    with pytest.raises(SpecError, match="no model.image_transformer"):
        parse_sweep("image_layers=1..2", no_image_transformer)


@data
def test_ablate_writes_summaries_and_resumes(tiny_ablation, monkeypatch, capsys):
    result = json.loads((tiny_ablation / "ablation.json").read_text())
    assert [row["name"] for row in result["rows"]] == ["text_only", "late_fusion", "clmlf"]
    assert result["f1_average"] == "weighted" and result["dataset"] == "mvsa_single"
    for row in result["rows"]:
        metrics = json.loads((tiny_ablation / row["name"] / "seed0" / "metrics.json").read_text())
        assert row["accuracy_mean"] == metrics["test"]["accuracy"] and row["f1_mean"] == metrics["test"]["f1"]
        assert row["seeds"] == 1 and row["accuracy_std"] is None and row["device"] == "cpu" and row["wall_s"] > 0
    test = {row["name"]: row["runs"][0] for row in result["rows"]}
    assert result["paired"]["reference"] == "clmlf"
    for paired in result["paired"]["rows"]:
        assert paired["seeds"] == [test["clmlf"]["seed"]] and paired["accuracy_diff_std"] is None
        assert paired["accuracy_diff_mean"] == test["clmlf"]["accuracy"] - test[paired["against"]]["accuracy"]
    markdown = (tiny_ablation / "ablation.md").read_text()
    assert "| `late_fusion`: late fusion" in markdown and "`clmlf` minus each row, paired by seed" in markdown
    assert (tiny_ablation / "ablation.png").stat().st_size > 10_000

    monkeypatch.setattr(seeds, "train", lambda *args, **kwargs: pytest.fail("a finished run was trained again"))
    argv = ["ablate", str(TINY_CONFIG), "--seeds", "1", "--out", str(tiny_ablation), "--rows", "clmlf", "--no-progress"]
    assert main(argv + [f"--set={o}" for o in TINY_RUN]) == 0
    printed = json.loads(capsys.readouterr().out)["results"]  # rows of the earlier call stay in the summary
    kept = json.loads((tiny_ablation / "ablation.json").read_text())["rows"]
    assert [row["name"] for row in printed] == [row["name"] for row in kept] == ["text_only", "late_fusion", "clmlf"]
    assert main(argv + [f"--set={o}" for o in TINY_RUN] + ["--set=train.num_threads=1"]) == 0  # how it runs: reused
    capsys.readouterr()
    assert main(argv + [f"--set={o}" for o in TINY_RUN] + ["--set=train.lr=0.5"]) == 2
    err = capsys.readouterr().err
    assert "train.lr:" in err and "-> 0.5" in err and "use a new --out" in err


@data
def test_layer_sweep(tmp_path):
    argv = ["ablate", str(TINY_CONFIG), "--seeds", "1", "--out", str(tmp_path), "--sweep", "fusion_layers=1..2", "--no-progress"]
    assert main(argv + [f"--set={o}" for o in TINY_RUN]) == 0
    result = json.loads((tmp_path / "sweep.json").read_text())
    assert result["key"] == "model.fusion.num_layers" and [p["value"] for p in result["points"]] == [1, 2]
    config = json.loads((tmp_path / "fusion_layers-2" / "seed0" / "config.json").read_text())
    assert config["model"]["fusion"]["num_layers"] == 2
    assert (tmp_path / "sweep.md").read_text().count("\n| ") == 3 and (tmp_path / "sweep.png").stat().st_size > 10_000


def test_shards_split_the_runs_round_robin(tmp_path):
    runs = [(None, tmp_path / f"run{index}") for index in range(7)]
    picked = [[run_dir.name for _, run_dir in Shard(index, 3).pick(runs)] for index in (1, 2, 3)]
    assert picked == [["run0", "run3", "run6"], ["run1", "run4"], ["run2", "run5"]]
    for bad in ("0/2", "3/2", "1", "a/b", "1/0"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected I/N"):
            parse_shard(bad)


def test_run_lists_follow_rows_then_seeds(tiny_spec, tmp_path):
    runs = ablation_runs(tiny_spec, tmp_path, 2, ["text_only", "clmlf"])
    assert [str(run_dir.relative_to(tmp_path)) for _, run_dir in runs] == ["text_only/seed0", "text_only/seed1", "clmlf/seed0", "clmlf/seed1"]
    assert [spec.train.seed for spec, _ in runs] == [7, 8, 7, 8]
    assert runs[1][0] == seeds.seeded(row_spec(tiny_spec, ROWS["text_only"]), 1) and runs[2][0] == row_spec(tiny_spec, ROWS["clmlf"])
    points = sweep_runs(tiny_spec, parse_sweep("fusion_layers=1..2", tiny_spec), tmp_path, 1)
    assert [(spec.model.fusion.num_layers, run_dir.parent.name) for spec, run_dir in points] == [(1, "fusion_layers-1"), (2, "fusion_layers-2")]


@data
def test_sharded_ablation_then_summary(tmp_path, monkeypatch, capsys):
    argv = ["ablate", str(TINY_CONFIG), "--seeds", "2", "--out", str(tmp_path), "--rows", "text_only", "--no-progress"]
    argv += [f"--set={override}" for override in TINY_RUN]
    for index, seed_dir in ((1, "seed0"), (2, "seed1")):
        assert main(argv + ["--shard", f"{index}/2"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["shard"] == f"{index}/2" and [run["dir"] for run in printed["runs"]] == [str(tmp_path / "text_only" / seed_dir)]
    assert not (tmp_path / "ablation.json").exists(), "a shard writes its runs only"

    monkeypatch.setattr(seeds, "train", lambda *args, **kwargs: pytest.fail("a shard's finished run was trained again"))
    assert main(argv) == 0
    row = json.loads((tmp_path / "ablation.json").read_text())["rows"][0]
    assert row["seeds"] == 2 and [run["seed"] for run in row["runs"]] == [7, 8] and row["accuracy_std"] is not None
