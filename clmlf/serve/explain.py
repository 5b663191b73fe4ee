"""One post -> label, probabilities and what the model looked at, as plain JSON-ready values (what the page draws).

The model runs once with ``return_attention=True``. Words are the tokenizer's pieces joined into words
(:func:`clmlf.experiments.attention.post_words`); the image grid is the s x s block of the last image tokens
(:func:`~clmlf.experiments.attention.image_grid`). Parts a model lacks come back as ``None``: no image encoder ->
``image`` and ``fusion``; no pooling weights (e.g. a CLS pooler) -> the ``pooling`` values; no fusion Transformer ->
``fusion``; a tokenizer that cannot show words -> ``words`` is empty.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import torch
from PIL import Image
from torch import Tensor

from clmlf.data.errors import BadImageError
from clmlf.data.images import MAX_PIXELS, load_image
from clmlf.experiments.attention import WORD_PIECES, image_grid, post_words, word_rows
from clmlf.train.evaluate import autocast
from clmlf.train.predict import Predictor

DIGITS = 4
"""Decimals kept in the JSON (probabilities, weights): plenty for a picture, a fraction of the bytes."""


class BadPost(ValueError):
    """A post this model cannot read (the message says what to change); the server answers it with a 4xx."""


@dataclass(frozen=True)
class Limits:
    """What one post may be: ``max_text_chars`` of text, images of at most ``max_pixels`` (decompression bombs)."""

    max_text_chars: int = 2000
    max_pixels: int = MAX_PIXELS


def rounded(values: Tensor) -> list:
    """A tensor as nested lists of floats with :data:`DIGITS` decimals."""
    return torch.round(values.double(), decimals=DIGITS).tolist()


def view_png(pixels: Tensor) -> str:
    """(3, S, S) uint8 pixels, the image as the model saw it -> a ``data:image/png;base64,...`` URL."""
    buffer = io.BytesIO()
    Image.fromarray(pixels.permute(1, 2, 0).cpu().numpy()).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class Explainer:
    """``Explainer(predictor)(text, image_bytes, aspect) -> dict``: the prediction and its attention maps.

    Reads nothing but what it is given: the image arrives as bytes, never as a path. Not thread-safe (one model
    call at a time; the server queues requests into one worker).
    """

    def __init__(self, predictor: Predictor, limits: Limits = Limits()) -> None:
        self.predictor, self.limits = predictor, limits
        tokenizer = predictor.collator.tokenizer
        self.shows_words = all(hasattr(tokenizer, name) for name in WORD_PIECES)
        self.special = set(tokenizer.all_special_tokens) if self.shows_words else set()

    @property
    def needs_image(self) -> bool:
        return self.predictor.model.image_encoder is not None

    @property
    def uses_aspect(self) -> bool:
        return self.predictor.uses_aspect

    def describe(self) -> dict:
        """What a client needs to know to ask: labels, whether an image / an aspect is required, the limits."""
        return {"name": self.predictor.spec.name, "labels": list(self.predictor.label_names),
                "needs_image": self.needs_image, "uses_aspect": self.uses_aspect,
                "max_text_chars": self.limits.max_text_chars}

    def image(self, data: bytes | None) -> Image.Image | None:
        """Upload bytes -> RGB image (None when the model reads no image); :class:`BadPost` for anything unusable."""
        if not self.needs_image:
            return None
        if not data:
            raise BadPost("this model needs an image: add one (a JPEG or PNG)")
        try:
            return load_image(io.BytesIO(data), max_pixels=self.limits.max_pixels)
        except BadImageError as error:
            raise BadPost(f"the image cannot be used: {error.reason}") from None

    def check_text(self, text: str, aspect: str | None) -> None:
        if not text.strip():
            raise BadPost("the text is empty: type the post")
        if len(text) > self.limits.max_text_chars:
            raise BadPost(f"the text has {len(text)} characters; at most {self.limits.max_text_chars} are read")
        if aspect is not None and len(aspect) > self.limits.max_text_chars:
            raise BadPost(f"the aspect has {len(aspect)} characters; at most {self.limits.max_text_chars} are read")
        if self.uses_aspect and not (aspect or "").strip():
            raise BadPost("this model reads a sentence and an aspect term (data.formatter: aspect): give the aspect")
        if aspect is not None and aspect.strip() and not self.uses_aspect:
            raise BadPost("this model was trained without aspects (data.formatter: sentence): leave the aspect empty")

    @torch.no_grad()
    def __call__(self, text: str, image: bytes | None = None, aspect: str | None = None) -> dict:
        self.check_text(text, aspect)
        aspect = aspect.strip() if aspect is not None and aspect.strip() else None
        predictor = self.predictor
        try:
            inputs = predictor.inputs(text, self.image(image), aspect)
        except ValueError as error:
            raise BadPost(str(error)) from None
        with autocast(predictor.device, predictor.device.type == "cuda"):
            output = predictor.model(**inputs, return_attention=True)
        probabilities = output.logits.float().softmax(-1)[0].cpu()
        words = self.words(inputs["input_ids"][0].tolist())
        text_length = output.num_text_tokens
        pooling = None if output.pooling_weights is None else output.pooling_weights[0].float().cpu()  # (Lt+Li,)
        result = {
            "label": predictor.label_names[int(probabilities.argmax())],
            "probabilities": dict(zip(predictor.label_names, rounded(probabilities))),
            "words": [{"text": word, "pooling": None if pooling is None else round(float(pooling[positions].sum()), DIGITS)}
                      for word, positions in words],
            "image": None,
            "fusion": None,
        }
        if "pixel_values" in inputs:
            image_pooling = None if pooling is None else pooling[text_length:]
            result["image"] = {
                "src": view_png(inputs["pixel_values"][0]),
                "pooling": None if image_pooling is None else rounded(image_grid(image_pooling)),
                "pooling_other": None if image_pooling is None else round(float(image_pooling.sum() - image_grid(image_pooling).sum()), DIGITS),
            }
            if output.attention:
                result["fusion"] = self.fusion(output.attention, text_length, words)
        return result

    def words(self, input_ids: list[int]) -> list[tuple[str, list[int]]]:
        return post_words(self.predictor.collator.tokenizer, input_ids, self.special) if self.shows_words else []

    @staticmethod
    def fusion(attention: tuple[Tensor, ...], text_length: int, words: list[tuple[str, list[int]]]) -> dict:
        """Per fusion layer and head, each word's attention on the image grid: ``maps[layer][head][word]`` (s x s)."""
        stacked = torch.stack([layer[0] for layer in attention]).float().cpu()  # (layers, heads, L, L)
        rows = word_rows(stacked[..., :text_length, text_length:], words)  # (layers, heads, W, Li)
        return {"layers": stacked.shape[0], "heads": stacked.shape[1], "maps": rounded(image_grid(rows))}
