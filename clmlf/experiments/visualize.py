"""``clmlf visualize``: word -> patch attention maps, a t-SNE of pooled representations and a case study of one run.

The run's best checkpoint is evaluated on a split. With a text-only run (``--text-only``, or found in an ablation
layout: ``DIR/<row>/seed<k>`` -> ``DIR/text_only/seed<k>``, else ``DIR/text_only/seed0``) the t-SNE gets a second
panel and ``cases.md`` lists the items the two models label differently. Everything goes to ``RUN_DIR/figures/``
unless ``out`` says otherwise: ``attention_<k>_<id>.png`` (first ``n`` items with an image), ``tsne.png``, ``cases.md``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from clmlf.experiments.attention import AttentionProbe, NoAttentionMaps
from clmlf.experiments.cases import disagreements
from clmlf.experiments.embeddings import tsne_2d
from clmlf.experiments.figures import plot_tsne, plot_word_maps
from clmlf.model import WEIGHTS_NAME
from clmlf.train.commands import CheckpointEvaluation, evaluate_checkpoint
from clmlf.train.run_dir import write_atomic

logger = logging.getLogger("clmlf")
UNSAFE = re.compile(r"[^\w.-]")  # characters kept out of file names


def find_text_only(run_dir: Path) -> Path | None:
    """The text-only run beside ``run_dir`` in an ``ablate`` layout (same seed, else seed 0), if it has a checkpoint."""
    run_dir = run_dir.resolve()
    if run_dir.parent.name == "text_only":
        return None
    rows = run_dir.parent.parent
    candidates = (rows / "text_only" / run_dir.name, rows / "text_only" / "seed0")
    return next((path for path in candidates if (path / "checkpoint" / WEIGHTS_NAME).is_file()), None)


def attention_figures(run: CheckpointEvaluation, split: str, n: int, layer: int, head: int, out: Path) -> list[Path]:
    """One Fig.-5-style PNG per item for the first ``n`` items of ``split`` that have an image."""
    probe = AttentionProbe(run.model, run.inputs.collator, run.spec.data, layer, head, run.device)
    labels = run.inputs.splits.label_names
    predicted = dict(zip(run.result.ids, run.result.predictions.tolist()))
    paths = []
    for index, sample in enumerate([s for s in run.inputs.splits.split(split) if s.image_path is not None][:n]):
        title = (f"{sample.id}: “{sample.text}”  gold {labels[sample.label]}, predicted {labels[predicted[sample.id]]}"
                 f"  (fusion layer {layer}, head {head})")
        paths.append(out / f"attention_{index:02d}_{UNSAFE.sub('_', sample.id)}.png")
        plot_word_maps(probe(sample), title, paths[-1])
    return paths


def visualize(run_dir: str | Path, split: str = "test", n: int = 8, layer: int = -1, head: int = 0,
              text_only: str | Path | None = None, out: str | Path | None = None, progress: bool = True) -> list[Path]:
    """Write the figures (and ``cases.md`` when there is a text-only run); returns the paths written."""
    main = evaluate_checkpoint(run_dir, split, keep_pooled=True, progress=progress)
    text_dir = Path(text_only) if text_only is not None else find_text_only(Path(run_dir))
    other = evaluate_checkpoint(text_dir, split, keep_pooled=True, progress=progress) if text_dir is not None else None
    out = Path(out) if out is not None else Path(run_dir) / "figures"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        written += attention_figures(main, split, n, layer, head, out)
    except NoAttentionMaps as reason:
        logger.warning("no attention maps: %s", reason)
    runs = [main] + ([other] if other is not None else [])
    panels = [(f"{run.spec.name} ({len(run.result.ids)} items)", tsne_2d(run.result.pooled), run.result.labels) for run in runs]
    written.append(out / "tsne.png")
    plot_tsne(panels, main.inputs.splits.label_names, f"t-SNE of the pooled representations, {split} split", written[-1])
    if other is None:
        logger.info("no text-only run (pass --text-only RUN_DIR): one t-SNE panel, no cases.md")
        return written
    samples = {sample.id: sample for sample in main.inputs.splits.split(split)}
    table = disagreements(samples, main.inputs.splits.label_names, split,
                          (main.spec.name, main.result), (other.spec.name, other.result))
    written.append(out / "cases.md")
    write_atomic(written[-1], table)
    return written
