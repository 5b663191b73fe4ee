"""Load a run directory and predict labels for raw (text, image) pairs, one post or many in batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import torch
from PIL import Image

from clmlf.contracts import image_view_options
from clmlf.data.errors import BadImageError, DataError
from clmlf.data.images import load_image
from clmlf.data.views import eval_transform
from clmlf.model import CLMLF
from clmlf.train.evaluate import forward_batch
from clmlf.train.inputs import model_inputs
from clmlf.train.pipeline import build_collator, build_formatter, require_data
from clmlf.train.run_dir import RunDir, read_json
from clmlf.train.trainer import select_device


class Predictor:
    """A run's best checkpoint, ready to label posts:

    - ``predictor(text, image_path, aspect=None) -> {"label": ..., "probabilities": {...}}`` for one post;
    - ``predictor.predict_many(posts, batch_size=32)`` for a list of ``{"text", "image", "aspect"}`` mappings, in
      batches through the collator and forward pass evaluation uses (same results as one at a time, faster).
    """

    def __init__(self, run_dir: str | Path, device: str = "auto") -> None:
        run = RunDir(Path(run_dir))
        self.spec = run.read_spec()
        data = require_data(self.spec)
        self.device = select_device(device)
        self.model = CLMLF.from_pretrained(run.checkpoint, map_location=self.device).eval()
        self.label_names = self._label_names(run)
        self.collator = build_collator(self.model, build_formatter(data))
        self.uses_aspect = self.collator.formatter.uses_aspect
        encoder = self.model.image_encoder
        self.transform = None if encoder is None else eval_transform(**image_view_options(encoder, data.image_size))

    @staticmethod
    def _label_names(run: RunDir) -> list[str]:
        return read_json(run.root / "metrics.json")["label_names"]

    def __call__(self, text: str, image: str | Path | None = None, aspect: str | None = None) -> dict:
        """Label and class probabilities of one post; ``aspect`` exactly when the model was trained with aspects."""
        return self.predict_prepared([self.prepare(text, image, aspect)])[0]

    def predict_many(self, posts: Iterable[Mapping], batch_size: int = 32) -> list[dict]:
        """Predictions for ``posts`` (mappings with a ``text`` string and, as the model needs, ``image`` and ``aspect``;
        ``id`` and ``label`` are allowed and unused), in order, ``batch_size`` posts per forward pass. A bad post
        raises a :class:`ValueError` naming its index (``posts[3]: ...``) before any batch runs."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1; got {batch_size}")
        items = []
        for index, post in enumerate(posts):
            try:
                items.append(self.prepare_post(post))
            except (ValueError, TypeError) as error:  # DataError is a ValueError
                raise ValueError(f"posts[{index}]: {error}") from error
        return [prediction for batch in batches(items, batch_size) for prediction in self.predict_prepared(batch)]

    def prepare_post(self, post: Mapping, folder: Path | None = None) -> dict:
        """:meth:`prepare` for one post given as a mapping, its fields checked as the ``jsonl`` dataset checks its
        posts; a relative ``image`` path is read from ``folder`` when given."""
        from clmlf.data.jsonl_dataset import field_problems

        if not isinstance(post, Mapping):
            raise TypeError(f'expected a JSON object with a "text" string (and "image", "aspect", "id" where needed), got '
                            f"{type(post).__name__}")
        wrong = field_problems(dict(post))
        if wrong:
            raise ValueError("; ".join(wrong))
        image = post.get("image")
        if image is not None and folder is not None:
            image = folder / image  # an absolute path stays as it is
        return self.prepare(post["text"], image, post.get("aspect"))

    def prepare(self, text: str, image: str | Path | Image.Image | None = None, aspect: str | None = None) -> dict:
        """One post checked and its image read (a path, or an RGB image already loaded): the item
        :meth:`predict_prepared` batches. A post the model cannot read raises a :class:`ValueError` (or
        :class:`TypeError`) saying what to give instead."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string; got {type(text).__name__}")
        if self.uses_aspect and aspect is None:
            raise ValueError("this model reads [CLS] sentence [SEP] aspect [SEP] (data.formatter: aspect): give the aspect term "
                             "(--aspect TERM, or an \"aspect\" field in --jsonl)")
        if aspect is not None and not self.uses_aspect:
            raise ValueError("this model was trained without aspects (data.formatter: sentence): drop the aspect")
        item = {"text": text, "aspect": aspect, "id": ""}
        if self.transform is not None:
            if image is None:
                raise ValueError("this model needs an image: give its path (--image PATH, or an \"image\" field in --jsonl)")
            pixels = image if isinstance(image, Image.Image) else read_image(image)
            item["pixel_values"] = self.transform(pixels)  # (3, S, S)
        return item

    def inputs(self, text: str, image: Image.Image | None = None, aspect: str | None = None) -> dict[str, torch.Tensor]:
        """One post -> the model's keyword inputs on ``self.device`` (a batch of one; ``image`` already loaded, RGB)."""
        return model_inputs(self.collator([self.prepare(text, image, aspect)]), self.device)

    @torch.no_grad()
    def predict_prepared(self, items: list[dict]) -> list[dict]:
        """Predictions for posts made by :meth:`prepare`, in one forward pass (padding is masked, so each post's
        result does not depend on the others in the batch)."""
        output = forward_batch(self.model, self.collator(items), self.device, self.device.type == "cuda")
        probabilities = output.logits.float().softmax(-1).cpu()  # (B, C)
        return [{
            "label": self.label_names[int(row.argmax())],
            "probabilities": {name: round(float(p), 6) for name, p in zip(self.label_names, row)},
        } for row in probabilities]


def read_image(path: str | Path) -> Image.Image:
    """The RGB image at ``path``; an unusable file raises a :class:`DataError` naming it (the training-data advice,
    ``data.on_bad_image``, does not apply to prediction)."""
    try:
        return load_image(path)
    except BadImageError as error:
        raise DataError(f"cannot use image {error.path}: {error.reason}") from None


def batches(items: list, size: int) -> Iterator[list]:
    """``items`` in consecutive slices of ``size`` (the last one shorter)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
