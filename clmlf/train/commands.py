"""The work behind ``clmlf evaluate`` and ``clmlf predict`` (kept out of the argument parsing)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

from clmlf.model import CLMLF
from clmlf.spec import apply_overrides, validate_spec, ExperimentSpec
from clmlf.train.evaluate import evaluate
from clmlf.train.pipeline import build_inputs
from clmlf.train.run_dir import RunDir
from clmlf.train.trainer import select_device


def evaluate_run(run_dir: str, split: str, overrides: list[str]) -> dict:
    """Metrics of the run's best checkpoint on ``split`` (same inputs pipeline as training)."""
    run = RunDir(Path(run_dir))
    spec = run.read_spec()
    if overrides:
        spec = validate_spec(ExperimentSpec, apply_overrides(spec.model_dump(mode="json"), overrides), "--set")
    device = select_device(spec.train.device)
    model = CLMLF.from_pretrained(run.checkpoint, map_location=device)
    inputs = build_inputs(spec, model, device, augmented_train=False, splits=(split,))
    result = evaluate(model, inputs.loaders[split], device, inputs.splits.num_classes, inputs.splits.metric, spec.train.bf16)
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
