"""Case study: the items a multimodal model and a text-only model label differently, as a markdown table."""

from __future__ import annotations

from clmlf.data.samples import Sample
from clmlf.experiments.report import markdown_table
from clmlf.train.evaluate import Evaluation


def cell(text: object) -> str:
    """Text safe inside a markdown table cell (one line, escaped pipes)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def disagreements(samples: dict[str, Sample], label_names, split: str,
                  main: tuple[str, Evaluation], text_only: tuple[str, Evaluation]) -> str:
    """Markdown: a count line, then one row per item both evaluations cover and predict differently (id, text, image
    path, gold, both predictions); items the multimodal model gets right first, then the text-only model's, then neither."""
    (main_name, ours), (text_name, theirs) = main, text_only
    other = dict(zip(theirs.ids, theirs.predictions.tolist()))
    shared = [(i, g, p) for i, g, p in zip(ours.ids, ours.labels.tolist(), ours.predictions.tolist()) if i in other]
    if not shared:
        raise ValueError(f"{main_name} and {text_name} share no {split} items: were they trained on the same dataset?")
    differ = [(i, g, p) for i, g, p in shared if other[i] != p]
    differ.sort(key=lambda item: 0 if item[2] == item[1] else 1 if other[item[0]] == item[1] else 2)
    right = sum(p == g for _, g, p in differ)
    text_right = sum(other[i] == g for i, g, _ in differ)
    rows = [[cell(i), cell(samples[i].text), cell(samples[i].image_path or "—"),
             label_names[g], label_names[p], label_names[other[i]]] for i, g, p in differ]
    header = ["id", "text", "image", "gold", main_name, text_name]
    return (
        f"# Where {main_name} and {text_name} disagree ({split} split)\n\n"
        f"{len(differ)} of {len(shared)} items: {main_name} right in {right}, {text_name} right in {text_right}, "
        f"neither in {len(differ) - right - text_right}.\n\n" + (markdown_table(header, rows) if rows else "")
    )
