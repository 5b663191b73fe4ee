"""The work behind ``clmlf evaluate`` and ``clmlf predict`` (kept out of the argument parsing)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from clmlf.errors import SpecError
from clmlf.model import CLMLF, WEIGHTS_NAME
from clmlf.spec import apply_overrides, validate_spec, ExperimentSpec
from clmlf.train.evaluate import Evaluation, evaluate
from clmlf.train.pipeline import Inputs, build_inputs
from clmlf.train.run_dir import EXECUTION_FIELDS, RunDir
from clmlf.train.trainer import select_device


@dataclass
class CheckpointEvaluation:
    """A finished run's best checkpoint evaluated on one split, with what produced the result."""

    root: Path
    spec: ExperimentSpec
    model: CLMLF
    inputs: Inputs
    device: torch.device
    result: Evaluation


def evaluate_checkpoint(run_dir: str | Path, split: str, overrides: list[str] | None = None, keep_pooled: bool = False,
                        progress: bool = True) -> CheckpointEvaluation:
    """Evaluate the run's best checkpoint on ``split`` with the training inputs pipeline (``overrides``: ``--set``)."""
    root = Path(run_dir)
    if not (root / "checkpoint" / WEIGHTS_NAME).is_file():
        raise FileNotFoundError(f"{root}: no checkpoint/{WEIGHTS_NAME}; pass a finished run directory (made by `clmlf train --out`)")
    spec = RunDir(root).read_spec()
    if overrides:
        check_evaluation_overrides(overrides)
        spec = validate_spec(ExperimentSpec, apply_overrides(spec.model_dump(mode="json"), overrides), "--set")
    device = select_device(spec.train.device)
    model = CLMLF.from_pretrained(root / "checkpoint", map_location=device)
    inputs = build_inputs(spec, model, device, augmented_train=False, splits=(split,), progress=progress)
    result = evaluate(model, inputs.loaders[split], device, inputs.splits.num_classes, inputs.splits.metric,
                      spec.train.bf16_on(device.type), description=f"{root.name} {split}", progress=progress, keep_pooled=keep_pooled)
    return CheckpointEvaluation(root, spec, model, inputs, device, result)


def check_evaluation_overrides(overrides: list[str]) -> None:
    """Refuse ``--set`` keys outside ``data.*`` and the ``train`` fields of how a run executes: the model, losses and
    optimisation are the trained run's."""
    allowed = [f"train.{name}" for name in EXECUTION_FIELDS["train"]]
    keys = [assignment.partition("=")[0].strip() for assignment in overrides]
    bad = [key for key in keys if not (key.startswith("data.") or any(key == name or key.startswith(f"{name}.") for name in allowed))]
    if bad:
        raise SpecError("--set", [f"{key}: evaluation reads the trained model as saved; only data.* and "
                                  f"{', '.join(sorted(allowed))} can be set" for key in bad])


def evaluate_run(run_dir: str, split: str, overrides: list[str]) -> dict:
    """Metrics of the run's best checkpoint on ``split`` (same inputs pipeline as training)."""
    result = evaluate_checkpoint(run_dir, split, overrides).result
    return {"split": split, "samples": len(result.labels), **result.metrics}


def predict_lines(run_dir: str, text: str | None, image: str | None, aspect: str | None, jsonl: str | None,
                  batch_size: int = 32) -> Iterator[str]:
    """One JSON line per post: ``{"label": ..., "probabilities": {...}}`` (batch mode, :func:`predict_jsonl`, adds
    the input's ``id``)."""
    from clmlf.train.predict import Predictor

    if (text is None) == (jsonl is None):
        raise ValueError("pass either --text (with --image) or --jsonl FILE")
    if batch_size < 1:
        raise ValueError(f"--batch-size {batch_size}: give at least 1 post per batch")
    if jsonl not in (None, "-") and not Path(jsonl).is_file():
        found = "a folder" if Path(jsonl).is_dir() else "not a regular file" if Path(jsonl).exists() else "no such file"
        raise ValueError(f"--jsonl {jsonl}: {found}; pass a JSONL file of posts (one JSON object per line), or - for stdin")
    predictor = Predictor(run_dir)
    if text is not None:
        yield json.dumps(predictor(text, image, aspect))
    else:
        yield from predict_jsonl(predictor, jsonl, batch_size)


def predict_jsonl(predictor, jsonl: str, batch_size: int = 32) -> Iterator[str]:
    """``{"id", "label", "probabilities"}`` JSON lines for a JSONL file of posts (``-``: stdin), ``batch_size`` posts
    per forward pass, in input order. A bad line is reported on stderr as ``FILE:LINE: problem`` and skipped, and a
    :class:`ValueError` counting the failures ends the stream. Relative image paths are read from the JSONL file's
    folder (stdin: the working directory)."""
    folder = Path.cwd() if jsonl == "-" else Path(jsonl).parent
    failed, total, pending = 0, 0, []
    with sys.stdin if jsonl == "-" else open(jsonl) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            total += 1
            try:
                pending.append(prepare_line(predictor, line, number, folder))
            except (ValueError, TypeError) as error:  # DataError is a ValueError
                failed += 1
                print(f"{jsonl}:{number}: {error}", file=sys.stderr)
            if len(pending) == batch_size:
                yield from predicted_lines(predictor, pending)
                pending = []
    yield from predicted_lines(predictor, pending)
    if not total:
        raise ValueError(f"{jsonl}: no posts (the input is empty); write one JSON object per line, e.g. "
                         '{"text": "what a day", "image": "img/1.jpg"}')
    if failed:
        raise ValueError(f"{jsonl}: {failed} of {total} posts could not be predicted (listed above); the others were")


def prepare_line(predictor, line: str, number: int, folder: Path) -> tuple[str, dict]:
    """The post's id (a string, the line number by default) and the predictor's prepared item for one JSONL line,
    checked as the ``jsonl`` dataset checks its posts (:meth:`~clmlf.train.predict.Predictor.prepare_post`)."""
    try:
        post = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error.msg} at column {error.colno})") from None
    item = predictor.prepare_post(post, folder)
    return str(post.get("id", number)), item


def predicted_lines(predictor, pending: list[tuple[str, dict]]) -> Iterator[str]:
    """``{"id", "label", "probabilities"}`` JSON lines for prepared posts, predicted in one batch."""
    if pending:
        predictions = predictor.predict_prepared([item for _, item in pending])
        yield from (json.dumps({"id": post_id, **prediction}) for (post_id, _), prediction in zip(pending, predictions))
