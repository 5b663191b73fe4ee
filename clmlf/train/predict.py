"""Load a run directory and predict labels for raw (text, image) pairs."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from clmlf.contracts import image_view_options
from clmlf.data.errors import BadImageError, DataError
from clmlf.data.images import load_image
from clmlf.data.views import eval_transform
from clmlf.model import CLMLF
from clmlf.train.evaluate import autocast
from clmlf.train.pipeline import build_formatter, require_data, text_tokenizer
from clmlf.train.run_dir import RunDir, read_json
from clmlf.train.trainer import select_device


class Predictor:
    """``Predictor(run_dir)(text, image_path, aspect=None) -> {"label": ..., "probabilities": {...}}``."""

    def __init__(self, run_dir: str | Path, device: str = "auto") -> None:
        run = RunDir(Path(run_dir))
        self.spec = run.read_spec()
        data = require_data(self.spec)
        self.device = select_device(device)
        self.model = CLMLF.from_pretrained(run.checkpoint, map_location=self.device).eval()
        self.label_names = self._label_names(run)
        self.formatter = build_formatter(data)
        self.tokenizer = text_tokenizer(self.model)
        encoder = self.model.image_encoder
        self.transform = None if encoder is None else eval_transform(**image_view_options(encoder, data.image_size))

    @staticmethod
    def _label_names(run: RunDir) -> list[str]:
        return read_json(run.root / "metrics.json")["label_names"]

    @torch.no_grad()
    def __call__(self, text: str, image: str | Path | None = None, aspect: str | None = None) -> dict:
        """Label and class probabilities of one post; ``aspect`` exactly when the model was trained with aspects."""
        pixels = None
        if image is not None and self.model.image_encoder is not None:
            try:
                pixels = load_image(image)
            except BadImageError as error:  # the training-data advice (data.on_bad_image) does not apply here
                raise DataError(f"cannot use image {error.path}: {error.reason}") from None
        inputs = self.inputs(text, pixels, aspect)
        with autocast(self.device, self.device.type == "cuda"):
            probabilities = self.model(**inputs).logits.float().softmax(-1)[0].cpu()
        return {
            "label": self.label_names[int(probabilities.argmax())],
            "probabilities": {name: round(float(p), 6) for name, p in zip(self.label_names, probabilities)},
        }

    def inputs(self, text: str, image: Image.Image | None = None, aspect: str | None = None) -> dict[str, torch.Tensor]:
        """One post -> the model's keyword inputs on ``self.device`` (a batch of one; ``image`` already loaded, RGB).
        Raises ValueError naming what is missing or extra (aspect, image) for this model."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string; got {type(text).__name__}")
        if self.formatter.uses_aspect and aspect is None:
            raise ValueError("this model reads [CLS] sentence [SEP] aspect [SEP] (data.formatter: aspect): give the aspect term "
                             "(--aspect TERM, or an \"aspect\" field in --jsonl)")
        if aspect is not None and not self.formatter.uses_aspect:
            raise ValueError("this model was trained without aspects (data.formatter: sentence): drop the aspect")
        batch = self.formatter(self.tokenizer, [text], [aspect] if self.formatter.uses_aspect else None,
                               self.model.text_encoder.max_length)
        inputs = {key: value.to(self.device) for key, value in batch.items()}
        if self.model.image_encoder is not None:
            if image is None:
                raise ValueError("this model needs an image: give its path (--image PATH, or an \"image\" field in --jsonl)")
            inputs["pixel_values"] = self.transform(image)[None].to(self.device)
        return inputs
