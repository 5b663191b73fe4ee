"""Distributed training: ``torchrun --nproc_per_node 2 -m clmlf train`` (gloo, CPU) against one process.

Same global batch, same seeded order: two processes must reach the parameters of one process. The spec makes
that comparison meaningful: no dropout, no random augmentation, a frozen image backbone (BatchNorm in eval mode;
trainable BatchNorm would see per-rank statistics) and AdamW with ``eps=1``, ``lr=1``. With the usual tiny eps
Adam divides float noise by noise: a parameter whose exact gradient is zero (attention key biases, the pooling
score bias: softmax ignores shifts) moves by up to lr per step, differently in any two runs; and Adam would hide
a gradient that is off by a constant factor. With ``eps=1`` the update is about lr times the gradient's momentum,
so the test checks the gradients themselves. 19 training samples in global batches of 8 make the last batch uneven (2 + 1 rows);
``text_freeze_epochs=1`` makes the second epoch re-wrap DDP with the text backbone trainable.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from torch.utils.data import DataLoader

import clmlf
from clmlf.train.commands import evaluate_checkpoint
from clmlf.train.distributed import Distributed, process_group, resolve_backend
from clmlf.train.evaluate import evaluate
from clmlf.train.trainer import seed_everything, train
from conftest import REPO, TINY_CONFIG
from test_training import has_data

TOLERANCE = 1e-5  # ‖θ₂ − θ₁‖ ≤ TOLERANCE · ‖θ₁ − θ₀‖ over all parameters (θ₀: the shared initialisation)


def deterministic_config(folder) -> str:
    data = yaml.safe_load(TINY_CONFIG.read_text())
    model = data["model"]
    model["text_encoder"]["config_overrides"].update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model["image_encoder"]["freeze"] = True
    for part in ("image_transformer", "fusion", "head"):
        model[part]["dropout"] = 0.0
    data["data"].update(augmentation=None, dataset={**data["data"]["dataset"], "max_train": 19, "max_eval": 12})
    data["train"].update(epochs=2, batch_size=8, eval_batch_size=8, text_freeze_epochs=1, lr=1.0, eps=1.0, num_threads=1)
    path = folder / "config.json"
    path.write_text(json.dumps(data))
    return str(path)


def torchrun(config: str, out, processes: int) -> list[str]:
    """stdout lines of ``torchrun --nproc_per_node processes -m clmlf train config --out out``."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "clmlf", "train", config, "--out", str(out), "--no-progress"]
    result = subprocess.run(command, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(config, 2-process run dir, its stdout lines, 1-process run dir), each 2 epochs = 6 optimizer steps."""
    folder = tmp_path_factory.mktemp("distributed")
    config = deterministic_config(folder)
    stdout = torchrun(config, folder / "two", processes=2)
    train(clmlf.load_spec(config), folder / "one", progress=False)
    return config, folder / "two", stdout, folder / "one"


def update_error(config: str, run, reference) -> float:
    """‖θ_run − θ_ref‖ / ‖θ_ref − θ₀‖ over every float parameter of the runs' last saved states."""
    spec = clmlf.load_spec(config)
    seed_everything(spec.train.seed)  # the trainer's initialisation
    initial = clmlf.CLMLF.from_spec(spec.model).state_dict()
    ours, theirs = (load_file(str(folder / "state" / "model.safetensors")) for folder in (run, reference))
    names = [name for name in theirs if theirs[name].is_floating_point()]
    flat = lambda weights: torch.cat([weights[name].double().flatten() for name in names])  # noqa: E731
    return float((flat(ours) - flat(theirs)).norm() / (flat(theirs) - flat(initial)).norm())


needs_data = pytest.mark.skipif(not has_data(), reason="real data (../shared/data) absent")


@pytest.mark.integration
@needs_data
def test_two_processes_train_like_one(runs):
    config, two, stdout, one = runs
    assert update_error(config, two, one) <= TOLERANCE
    assert len(stdout) == 1 and json.loads(stdout[0])["run"] == str(two)  # rank 0 alone reports
    ours, theirs = (json.loads((folder / "metrics.json").read_text()) for folder in (two, one))
    assert (ours["world_size"], theirs["world_size"]) == (2, 1)
    for mine, reference in [*zip((e["dev"] for e in ours["epochs"]), (e["dev"] for e in theirs["epochs"])), (ours["test"], theirs["test"])]:
        assert mine == pytest.approx(reference, rel=TOLERANCE)  # the counts exactly; the cross-entropy within the weights' error
    for mine, reference in zip(ours["epochs"], theirs["epochs"]):  # global-batch loss terms, logged by rank 0
        assert mine["train"] == pytest.approx(reference["train"], rel=TOLERANCE)
    assert (two / "predictions_test.jsonl").read_text().count("\n") == theirs["samples"]["test"]


@pytest.mark.integration
@needs_data
def test_rank_0_alone_logs_the_global_batch_losses_to_tensorboard(runs):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    _, two, _, one = runs
    assert len(list((two / "tensorboard").glob("events.out.tfevents.*"))) == 1
    ours, theirs = ({event.step: event.value for event in logged.Scalars("train/loss")}
                    for logged in (accumulator.EventAccumulator(str(folder / "tensorboard")).Reload() for folder in (two, one)))
    assert sorted(ours) == [3, 6] and ours == pytest.approx(theirs, rel=TOLERANCE)


@pytest.mark.integration
@needs_data
def test_two_compiled_processes_train_like_one(runs, tmp_path):
    """``train.compile`` under DDP: 2 processes with the model's parts compiled (aot_eager backend) take the steps of
    the eager single process."""
    config, _, _, one = runs
    data = json.loads(Path(config).read_text())
    data["train"].update(compile=True, compile_options={"backend": "aot_eager"})
    compiled = tmp_path / "compiled.json"
    compiled.write_text(json.dumps(data))
    torchrun(str(compiled), tmp_path / "two", processes=2)
    assert update_error(config, tmp_path / "two", one) <= TOLERANCE


@pytest.mark.integration
@needs_data
def test_resume_with_another_number_of_processes(runs, tmp_path):
    """The 2-process run's state, resumed by one process for a third epoch, matches the 1-process run resumed alike."""
    config, two, _, one = runs
    longer = clmlf.load_spec(config, ["train.epochs=3"])
    for name, source in (("two", two), ("one", one)):
        shutil.copytree(source, tmp_path / name)
        metrics = train(longer, tmp_path / name, resume=True, progress=False)
        assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3]
    assert update_error(config, tmp_path / "two", tmp_path / "one") <= TOLERANCE


@pytest.mark.integration
@needs_data
def test_dev_metrics_are_those_of_the_saved_model(tmp_path):
    """The tiny config's trainable BatchNorm leaves each rank with its own running statistics after training; the
    dev metrics two processes record (13 samples: uneven slices) must be those of rank 0's model, the one saved.
    Unshared statistics move the dev cross-entropy by about 2e-5 here; evaluated alike it matches to float noise."""
    data = yaml.safe_load(TINY_CONFIG.read_text())
    data["data"]["dataset"].update(max_train=16, max_eval=13)
    data["train"].update(epochs=1, batch_size=4, num_threads=1)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(data))
    torchrun(str(config), tmp_path / "two", processes=2)
    recorded = json.loads((tmp_path / "two" / "metrics.json").read_text())["epochs"][0]["dev"]
    assert recorded == pytest.approx(evaluate_checkpoint(tmp_path / "two", "dev", progress=False).result.metrics, rel=1e-6)


def test_global_batches_are_shared_out_in_contiguous_slices():
    order = torch.randperm(19)
    assert Distributed().batches(order, 8) == [b.tolist() for b in order.split(8)]  # one process: plain batches
    ranks = [Distributed(rank, 3).batches(order, 8) for rank in range(3)]
    assert [len(batches) for batches in ranks] == [3, 3, 3]
    for step in range(3):
        assert sum((ranks[rank][step] for rank in range(3)), []) == order.split(8)[step].tolist()
    assert [len(ranks[rank][2]) for rank in range(3)] == [1, 1, 1]
    assert len(Distributed(0, 4).batches(order, 8)) == 2  # a last batch of 3 rows cannot feed 4 ranks: dropped
    with pytest.raises(ValueError, match="global batch"):
        Distributed(0, 16).check_batch_size(8)


def test_a_rank_with_an_empty_slice_of_a_small_split_evaluates_nothing(tiny_model):
    """3 dev items over 4 ranks: rank 3 gets no batch (not one empty batch for the collator) and an empty
    evaluation that joins the others' predictions unchanged."""
    loader = DataLoader(list(range(3)), batch_size=2)
    assert [list(b) for b in Distributed(0, 4).shard_loader(loader)] == [[0]]
    empty = Distributed(3, 4).shard_loader(loader)
    assert list(empty) == []
    result = evaluate(tiny_model, empty, torch.device("cpu"), num_classes=3, f1_average="weighted", progress=False)
    assert result.metrics == {} and result.ids == [] and result.probabilities.shape == (0, 3)
    assert result.labels.dtype == result.predictions.dtype == torch.long


def test_nccl_without_cuda_is_a_clear_error():
    assert resolve_backend("auto", torch.device("cpu")) == "gloo"
    with pytest.raises(ValueError, match="nccl needs CUDA"):
        resolve_backend("nccl", torch.device("cpu"))


@pytest.mark.parametrize("local_rank, order", [("0", ["block", "barrier"]), ("1", ["barrier", "block"])])
def test_local_main_computes_first_and_the_others_wait(monkeypatch, local_rank, order):
    events = []
    monkeypatch.setenv("LOCAL_RANK", local_rank)
    monkeypatch.setattr(Distributed, "barrier", lambda self: events.append("barrier"))
    with Distributed(rank=int(local_rank) + 2, world=4).local_main_first():
        events.append("block")
    assert events == order


def test_a_failing_local_main_still_releases_the_others(monkeypatch):
    events = []
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setattr(Distributed, "barrier", lambda self: events.append("barrier"))
    with pytest.raises(ValueError, match="bad data"), Distributed(rank=0, world=2).local_main_first():
        raise ValueError("bad data")
    assert events == ["barrier"]


def test_the_group_waits_as_long_as_the_spec_says(monkeypatch):
    """``train.dist_timeout_min`` reaches the process group: ranks waiting for a local main's cache build must not
    hit NCCL's 10-minute default."""
    joined = {}

    class Joined(Exception):
        pass

    def init_process_group(backend, **options):
        joined.update(options, backend=backend)
        raise Joined

    monkeypatch.setattr(torch.distributed, "init_process_group", init_process_group)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    with pytest.raises(Joined), process_group(torch.device("cpu"), "auto", clmlf.spec.TrainSpec().dist_timeout_min):
        pass
    assert joined == {"backend": "gloo", "device_id": None, "timeout": timedelta(minutes=60)}


def test_agree_raises_on_every_rank_when_one_rank_fails(monkeypatch):
    """Rank 1 sees rank 0's failure in the collective and raises at once, naming it; rank 0 raises its own error."""
    gathered = [None, "RunInUseError: runs/x is in use by pid 7"]

    def all_gather_object(messages, mine):
        messages[:] = [gathered[1], mine] if mine is None else [mine, None]

    monkeypatch.setattr(torch.distributed, "all_gather_object", all_gather_object)
    with pytest.raises(RuntimeError, match=r"rank 0 stopped the job: RunInUseError: runs/x is in use by pid 7"):
        Distributed(rank=1, world=2).agree(lambda: "claimed")
    with pytest.raises(FileExistsError, match="in use"):
        Distributed(rank=0, world=2).agree(lambda: (_ for _ in ()).throw(FileExistsError("in use")))
    monkeypatch.setattr(torch.distributed, "all_gather_object", lambda messages, mine: messages.__setitem__(slice(None), [None, None]))
    assert Distributed(rank=1, world=2).agree(lambda: "claimed") == "claimed"


@pytest.mark.integration
@needs_data
def test_a_locked_run_directory_stops_every_rank_at_once(tmp_path):
    """torchrun on a run directory another process holds: rank 0 is refused (before the model is built) and the job
    ends with it, long before the group's timeout (a refusal inside the group: test_agree_raises_...)."""
    from clmlf.train.run_lock import run_lock

    config, out = deterministic_config(tmp_path), tmp_path / "held"
    out.mkdir()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "clmlf", "train", config, "--out", str(out), "--no-progress"]
    started = time.monotonic()
    with run_lock(out):
        result = subprocess.run(command, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "is in use" in result.stderr, result.stderr[-3000:]
    assert time.monotonic() - started < 90, "the job ends with rank 0's refusal, not at the group's timeout"
