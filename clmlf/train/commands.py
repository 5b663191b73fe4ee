"""The work behind ``clmlf evaluate`` and ``clmlf predict`` (kept out of the argument parsing)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from clmlf.model import CLMLF, WEIGHTS_NAME
from clmlf.spec import apply_overrides, validate_spec, ExperimentSpec
from clmlf.train.evaluate import Evaluation, evaluate
from clmlf.train.pipeline import Inputs, build_inputs
from clmlf.train.run_dir import RunDir
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
        spec = validate_spec(ExperimentSpec, apply_overrides(spec.model_dump(mode="json"), overrides), "--set")
    device = select_device(spec.train.device)
    model = CLMLF.from_pretrained(root / "checkpoint", map_location=device)
    inputs = build_inputs(spec, model, device, augmented_train=False, splits=(split,), progress=progress)
    result = evaluate(model, inputs.loaders[split], device, inputs.splits.num_classes, inputs.splits.metric,
                      spec.train.bf16_on(device.type), description=f"{root.name} {split}", progress=progress, keep_pooled=keep_pooled)
    return CheckpointEvaluation(root, spec, model, inputs, device, result)


def evaluate_run(run_dir: str, split: str, overrides: list[str]) -> dict:
    """Metrics of the run's best checkpoint on ``split`` (same inputs pipeline as training)."""
    result = evaluate_checkpoint(run_dir, split, overrides).result
    return {"split": split, "samples": len(result.labels), **result.metrics}


def predict_lines(run_dir: str, text: str | None, image: str | None, aspect: str | None, jsonl: str | None) -> Iterator[str]:
    """One JSON line per post: ``{"label": ..., "probabilities": {...}}`` (batch mode adds the input's ``id``)."""
    from clmlf.train.predict import Predictor

    if (text is None) == (jsonl is None):
        raise ValueError("pass either --text (with --image) or --jsonl FILE")
    predictor = Predictor(run_dir)
    if text is not None:
        yield json.dumps(predictor(text, image, aspect))
        return
    handle = sys.stdin if jsonl == "-" else open(jsonl)
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                result = predictor(item["text"], item.get("image"), item.get("aspect"))
            except (KeyError, json.JSONDecodeError) as error:
                raise ValueError(f"{jsonl}:{number}: expected a JSON object with a \"text\" field ({error})") from None
            yield json.dumps({"id": item.get("id", number), **result})
