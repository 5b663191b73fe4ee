"""docs/tracking.md: TensorBoard event files of a tiny run on real MVSA-Single (read back with tensorboard's
EventAccumulator), a resumed run's event stream, the off switch, a tracker of one's own, the missing package."""

from __future__ import annotations

import json
import logging
import sys

import pytest

import clmlf
from clmlf.train.run_dir import RunDir
from clmlf.train.tracking import open_tensorboard
from clmlf.train.trainer import Trainer, train
from conftest import TINY_CONFIG, TINY_RUN, has_real_data

pytest.importorskip("tensorboard", reason="the clmlf[tensorboard] extra is not installed")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

needs_data = pytest.mark.skipif(not has_real_data(), reason="real data (../shared/data) absent")

STEPS_PER_EPOCH = 4  # 32 training samples in batches of 8


def events(run) -> EventAccumulator:
    return EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0}).Reload()


def scalars(accumulator: EventAccumulator, tag: str) -> dict[int, float]:
    return {event.step: event.value for event in accumulator.Scalars(tag)}


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory):
    """One epoch; then a stray event at step 6, as a session killed in the middle of epoch 2 leaves; then --resume to
    two epochs. Training scalars every 3 optimizer steps (and at each epoch's end)."""
    out = tmp_path_factory.mktemp("tracked")
    overrides = [*TINY_RUN, "train.log_every=3"]
    train(clmlf.load_spec(TINY_CONFIG, overrides), out, progress=False)
    with SummaryWriter(str(out / "tensorboard")) as writer:
        writer.add_scalar("train/loss", 1e6, 6)
    train(clmlf.load_spec(TINY_CONFIG, [*overrides, "train.epochs=2"]), out, resume=True, progress=False)
    return out


@needs_data
def test_every_loss_term_lr_dev_metric_throughput_and_figure_is_logged(resumed_run):
    logged = events(resumed_run)
    metrics = json.loads((resumed_run / "metrics.json").read_text())
    terms = set(metrics["epochs"][0]["train"])
    assert terms >= {"loss", "sc", "lbcl", "dbcl"}
    lrs = {"lr/rest/decay", "lr/rest/no_decay", "lr/text/decay", "lr/text/no_decay", "lr/image/decay", "lr/image/no_decay"}
    expected = {f"train/{term}" for term in terms} | {"train/samples_per_s", "epoch"} | {
        f"{split}/{name}" for split in ("dev", "test") for name in ("accuracy", "f1", "cross_entropy")}
    tags = set(logged.Tags()["scalars"])
    assert expected <= tags and {tag for tag in tags if tag.startswith("lr/")} <= lrs and "lr/rest/decay" in tags

    for tag in ("train/loss", "train/sc", "lr/rest/decay", "train/samples_per_s"):  # every 3 steps and at each epoch's end
        assert sorted(scalars(logged, tag)) == [3, 4, 6, 8], tag
    windows = [{3: 3, 4: 1}, {6: 2, 8: 2}]  # per epoch: {step logged: batches since the previous log}
    for epoch, record in enumerate(metrics["epochs"]):  # the windows' means weighted by their batches: the epoch's mean
        for term in terms:
            values = scalars(logged, f"train/{term}")
            mean = sum(batches * values[step] for step, batches in windows[epoch].items()) / STEPS_PER_EPOCH
            assert mean == pytest.approx(record["train"][term], rel=1e-5), term
        for name, value in record["dev"].items():
            assert scalars(logged, f"dev/{name}")[(epoch + 1) * STEPS_PER_EPOCH] == pytest.approx(value, rel=1e-6)
    assert scalars(logged, "epoch") == {4: 1, 8: 2}
    test_accuracy = scalars(logged, "test/accuracy")  # the one-epoch session finished too, at step 4
    assert sorted(test_accuracy) == [4, 8] and test_accuracy[8] == pytest.approx(metrics["test"]["accuracy"])
    assert all(value == pytest.approx(1e-3) for value in scalars(logged, "lr/rest/decay").values())  # configs/tiny.yaml
    assert all(value > 1 for value in scalars(logged, "train/samples_per_s").values())

    assert set(logged.Tags()["images"]) == {"figures/curves", "figures/confusion_test"}
    for tag in ("figures/curves", "figures/confusion_test"):
        assert [image.step for image in logged.Images(tag)] == [4, 8]
        image = logged.Images(tag)[-1]
        assert image.width > 300 and image.height > 300 and len(image.encoded_image_string) > 5000


@needs_data
def test_a_resumed_run_continues_the_event_stream(resumed_run):
    """Steps go on from the saved epoch; what the killed session logged after it (the stray step 6) is dropped."""
    loss = scalars(events(resumed_run), "train/loss")
    assert sorted(loss) == [3, 4, 6, 8] and max(loss.values()) < 100


@needs_data
def test_the_off_switch_writes_nothing_and_a_tracker_of_ones_own_gets_the_values(tmp_path):
    class Recorder:
        def __init__(self):
            self.scalars, self.figures, self.closed = {}, [], False

        def log_scalars(self, step, values):
            self.scalars.setdefault(step, {}).update(values)

        def log_figure(self, tag, figure, step):
            self.figures.append((tag, step))

        def close(self):
            self.closed = True

    spec = clmlf.load_spec(TINY_CONFIG, [*TINY_RUN, "train.tensorboard=false"])
    recorder = Recorder()
    metrics = Trainer.from_spec(spec, RunDir(tmp_path / "off"), progress=False, tracker=recorder).fit()
    assert not (tmp_path / "off" / "tensorboard").exists()
    assert recorder.scalars[STEPS_PER_EPOCH]["train/loss"] == pytest.approx(metrics["epochs"][0]["train"]["loss"], rel=1e-6)
    assert recorder.figures == [("figures/curves", 4), ("figures/confusion_test", 4)] and not recorder.closed  # the caller's

    train(spec, tmp_path / "plain", progress=False)
    assert not (tmp_path / "plain" / "tensorboard").exists() and (tmp_path / "plain" / "curves.png").is_file()


def test_without_the_package_tensorboard_is_off_unless_required(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as without the package
    with caplog.at_level(logging.INFO, logger="clmlf"):
        assert open_tensorboard(tmp_path, None) is None
    assert "pip install 'clmlf[tensorboard]'" in caplog.text
    with pytest.raises(ModuleNotFoundError, match=r"train.tensorboard: true needs the tensorboard package"):
        open_tensorboard(tmp_path, True)
    assert not any(tmp_path.iterdir())
