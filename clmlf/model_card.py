"""The model card (``README.md``) a CLMLF checkpoint carries: the YAML metadata the Hugging Face Hub reads (library,
tags, datasets, ``model-index`` with the test results) above a body with how to load it, the results and the spec."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

LIBRARY_NAME = "clmlf"
TAGS = ("clmlf", "multimodal", "sentiment-analysis", "image-text-classification", "pytorch")
CARD_NAME = "README.md"
DATASET_NAMES = {"mvsa_single": "MVSA-Single", "mvsa_multiple": "MVSA-Multiple", "hfm": "HFM (Twitter sarcasm)",
                 "twitter2015": "Twitter-2015", "twitter2017": "Twitter-2017"}
"""Pretty names of the built-in datasets; other datasets (plugins, ``jsonl``) show their own name."""
METRIC_TYPES = {"weighted_f1": ("f1", "weighted"), "macro_f1": ("f1", "macro")}
"""Metric names whose Hub metric id (and its configuration) differ from the name a run records."""
ALIASES = frozenset({"f1"})
"""Metrics left off the card: ``f1`` repeats ``weighted_f1`` or ``macro_f1`` (the dataset's average)."""


@dataclass(frozen=True)
class CardResults:
    """What a training run measured, for the card: the run's ``name``, its ``dataset`` (the name a run's
    ``metrics.json`` records, e.g. ``mvsa_single``), ``metrics`` on ``split`` ({name: value}) and the class names in
    logit order."""

    name: str
    dataset: str
    metrics: dict[str, float]
    label_names: tuple[str, ...] = ()
    split: str = "test"

    @classmethod
    def from_summary(cls, summary: dict) -> CardResults:
        """From a run's ``metrics.json`` summary (its ``test`` metrics)."""
        return cls(summary["name"], summary["dataset"], dict(summary["test"]), tuple(summary.get("label_names") or ()))

    def eval_results(self) -> list[EvalResult]:
        """One ``model-index`` entry per metric."""
        entries = []
        for metric, value in self.metrics.items():
            if metric not in ALIASES:
                metric_type, metric_config = METRIC_TYPES.get(metric, (metric, None))
                entries.append(EvalResult(
                    task_type="text-classification", task_name="Multimodal sentiment classification",
                    dataset_type=self.dataset, dataset_name=dataset_name(self.dataset), dataset_split=self.split,
                    metric_type=metric_type, metric_config=metric_config, metric_name=metric.replace("_", " "),
                    metric_value=round(float(value), 4)))
        return entries


def dataset_name(dataset: str) -> str:
    return DATASET_NAMES.get(dataset, dataset)


def model_card(config: dict, results: CardResults | None = None, repo_id: str | None = None) -> ModelCard:
    """The card of a checkpoint whose ``config.json`` holds ``config`` (``spec``, ``versions``); ``results`` adds the
    datasets and ``model-index`` metadata and a results table; ``repo_id`` is the Hub id the loading example names."""
    name = repo_id.split("/")[-1] if repo_id else results.name if results else "CLMLF model"
    data = ModelCardData(library_name=LIBRARY_NAME, tags=list(TAGS), model_name=name,
                         datasets=[dataset_name(results.dataset)] if results else None,
                         eval_results=results.eval_results() if results else None)
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{card_body(name, config, results, repo_id)}")


def card_body(name: str, config: dict, results: CardResults | None, repo_id: str | None) -> str:
    versions = ", ".join(f"{library} {version}" for library, version in (config.get("versions") or {}).items())
    lines = [
        f"# {name}", "",
        "A CLMLF model (Li et al., Findings of NAACL 2022) saved by the `clmlf` library (`pip install clmlf`): text and "
        "image encoders, token-level Transformer fusion and attention pooling, classifying the sentiment of a text + "
        "image post.", "",
        "## Use it", "", "```python", "from clmlf import CLMLF", "",
        f'model = CLMLF.from_pretrained("{repo_id or "<user>/<repo>"}")  # eval mode; map_location="cuda" for a GPU',
        "```", "",
        "`model(input_ids=..., attention_mask=..., pixel_values=...).logits` gives one score per class; the text "
        "encoder's tokenizer is `model.text_encoder.tokenizer()`.",
    ]
    if results:
        lines += ["", "## Results", "", f"{dataset_name(results.dataset)}, {results.split} split:", "",
                  "| metric | value |", "| --- | --- |",
                  *(f"| {metric} | {value:.4f} |" for metric, value in results.metrics.items() if metric not in ALIASES)]
        if results.label_names:
            lines += ["", "Classes, in logit order: " + ", ".join(f"`{label}`" for label in results.label_names) + "."]
    lines += ["", "## Spec", "", "The model spec in `config.json` (paths are relative to this folder):", "",
              "```yaml", yaml.safe_dump(config["spec"], sort_keys=False).rstrip(), "```"]
    if versions:
        lines += ["", f"Saved with {versions}."]
    return "\n".join(lines) + "\n"


def is_clmlf_card(path: Path) -> bool:
    """Whether ``path`` is a model card that clmlf wrote (its metadata names the library)."""
    return path.is_file() and ModelCard.load(path).data.library_name == LIBRARY_NAME
