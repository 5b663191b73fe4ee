"""Synthetic posts for checks that need a dataset: three JSON Lines splits with small generated JPEGs."""

from __future__ import annotations

import json
from pathlib import Path

LABELS = ("negative", "neutral", "positive")
WORDS = {
    "negative": ("awful", "sad", "broken", "rain", "late"),
    "neutral": ("bus", "table", "monday", "street", "paper"),
    "positive": ("great", "happy", "sunny", "love", "win"),
}
COLOURS = {"negative": (40, 40, 160), "neutral": (128, 128, 128), "positive": (230, 180, 40)}


def write_posts(folder: str | Path, sizes: tuple[int, int, int] = (16, 8, 8), images: bool = True,
                aspects: bool = False) -> Path:
    """Write ``train.jsonl``, ``dev.jsonl`` and ``test.jsonl`` (``sizes`` posts each, labels cycling through
    negative / neutral / positive, words and image colours following the label) for the ``jsonl`` dataset:
    ``{type: jsonl, root: folder, train: train.jsonl, dev: dev.jsonl, test: test.jsonl, images: true}``.
    ``aspects`` gives every post an ``aspect`` (for aspect formatters). Returns ``folder``."""
    from PIL import Image

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for split, size in zip(("train", "dev", "test"), sizes):
        lines = []
        for index in range(size):
            label = LABELS[index % len(LABELS)]
            words = WORDS[label]
            post = {"id": f"{split}-{index}", "label": label,
                    "text": " ".join(words[(index + step) % len(words)] for step in range(3 + index % 4))}
            if aspects:
                post["aspect"] = words[index % len(words)]
            if images:
                post["image"] = f"images/{split}-{index}.jpg"
                shade = tuple(min(255, channel + 7 * (index % 5)) for channel in COLOURS[label])
                Image.new("RGB", (40, 32), shade).save(folder / post["image"], quality=90)
            lines.append(json.dumps(post))
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return folder
