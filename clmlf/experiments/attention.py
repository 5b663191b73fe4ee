"""Word -> image-patch attention of one fusion head (paper Fig. 5), for one post at a time.

The fusion encoder's attention over the joint sequence [text (Lt); image (Li)] is (L, L) per head; the rows of a
word's pieces (``##`` WordPiece continuations join the previous token) are averaged, and the columns of the image
tokens kept. The last s² image tokens (s = ⌊√Li⌋) are the encoder's s x s grid of positions (``pool_size`` x
``pool_size`` when pooled); tokens before them (the global token) count towards a word's image mass but are not drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from clmlf.contracts import image_view_options
from clmlf.data.images import load_image
from clmlf.data.samples import Sample
from clmlf.data.views import eval_transform
from clmlf.model import CLMLF
from clmlf.spec import DataSpec
from clmlf.train.inputs import Collator, model_inputs

WORD_PIECES = ("convert_ids_to_tokens", "all_special_tokens")
"""What the maps read from a (Hugging Face) tokenizer to turn token ids back into words."""


class NoAttentionMaps(ValueError):
    """The model has no word -> patch attention to show (no image tokens, no fusion layers, non-spatial tokens)."""


@dataclass
class WordMaps:
    """words: K words in sentence order; patches: (K, s, s) attention to the image grid; image_mass: (K,) attention on
    all image tokens; pixels: (3, S, S) the image as the model saw it, in [0, 1]."""

    words: list[str]
    patches: Tensor
    image_mass: Tensor
    pixels: Tensor


def merge_word_pieces(tokens: list[str], special: set[str]) -> list[tuple[str, list[int]]]:
    """WordPiece tokens -> ``[(word, token positions)]``; special tokens dropped, ``##`` pieces joined to their word."""
    words: list[tuple[str, list[int]]] = []
    for position, token in enumerate(tokens):
        if token in special:
            continue
        if token.startswith("##") and words:
            word, positions = words[-1]
            words[-1] = (word + token[2:], positions + [position])
        else:
            words.append((token, [position]))
    return words


def post_words(tokenizer, input_ids: list[int], special: set[str]) -> list[tuple[str, list[int]]]:
    """A post's token ids -> ``[(word, token positions)]`` of the words with a letter or digit (punctuation dropped)."""
    tokens = tokenizer.convert_ids_to_tokens(input_ids)
    return [(word, positions) for word, positions in merge_word_pieces(tokens, special)
            if any(character.isalnum() for character in word)]


def word_rows(to_image: Tensor, words: list[tuple[str, list[int]]]) -> Tensor:
    """(..., Lt, Li) attention of the text tokens -> (..., W, Li): the rows of each word's pieces averaged."""
    if not words:
        return to_image[..., :0, :]
    return torch.stack([to_image[..., positions, :].mean(-2) for _, positions in words], -2)


def image_grid(values: Tensor) -> Tensor:
    """(..., Li) values of the image tokens -> (..., s, s) on the last s² tokens, the s x s grid (s = ⌊√Li⌋)."""
    side = math.isqrt(values.shape[-1])
    return values[..., values.shape[-1] - side * side:].reshape(*values.shape[:-1], side, side)


class AttentionProbe:
    """``probe(sample) -> WordMaps`` for fusion layer ``layer`` (negative counts from the last) and head ``head``.

    Images go through the evaluation view of ``data`` (as in training); ``pixels`` in [0, 1] show what the model saw.
    ``words``: how many words (those with the most attention on the image) to keep.
    """

    def __init__(self, model: CLMLF, collator: Collator, data: DataSpec, layer: int, head: int,
                 device: torch.device, words: int = 7) -> None:
        if model.image_encoder is None:
            raise NoAttentionMaps("the model has no image encoder")
        if getattr(model.image_encoder, "token_layout", "spatial") == "legacy_view":
            raise NoAttentionMaps("image_encoder.token_layout is legacy_view: its tokens are not image positions")
        missing = [name for name in WORD_PIECES if not hasattr(collator.tokenizer, name)]
        if missing:
            raise NoAttentionMaps(f"the text encoder's tokenizer has no {' / '.join(missing)}, so its tokens cannot be "
                                  "shown as words (docs/components.md#text_encoder)")
        self.model, self.collator, self.device = model.eval(), collator, device
        self.transform = eval_transform(**image_view_options(model.image_encoder, data.image_size))
        self.layer, self.head, self.words = layer, head, words
        self.special = set(collator.tokenizer.all_special_tokens)

    def attention(self, batch: dict) -> tuple[Tensor, int]:
        """The chosen head's (L, L) attention for a one-item batch, and Lt."""
        with torch.no_grad():
            output = self.model(**model_inputs(batch, self.device), return_attention=True)
        if not output.attention:
            raise NoAttentionMaps("the model's fusion returns no attention maps (no fusion Transformer layers)")
        layers, heads = len(output.attention), output.attention[0].shape[1]
        if not -layers <= self.layer < layers:
            raise ValueError(f"--layer {self.layer}: the fusion encoder has {layers} layers (use {-layers}..{layers - 1})")
        if not 0 <= self.head < heads:
            raise ValueError(f"--head {self.head}: the fusion layers have {heads} heads (use 0..{heads - 1})")
        return output.attention[self.layer][0, self.head].float().cpu(), output.num_text_tokens

    def __call__(self, sample: Sample) -> WordMaps:
        pixels = self.transform(load_image(sample.image_path, sample.id))
        text = self.collator.text([sample.text], [sample.aspect])
        attention, text_length = self.attention({**text, "pixel_values": pixels[None]})
        words = post_words(self.collator.tokenizer, text["input_ids"][0].tolist(), self.special)
        rows = word_rows(attention[:text_length, text_length:], words)  # (W, Li)
        mass = rows.sum(-1)
        keep = mass.topk(min(self.words, len(words))).indices.sort().values  # the strongest words, sentence order
        return WordMaps(
            words=[words[i][0] for i in keep.tolist()],
            patches=image_grid(rows[keep]),
            image_mass=mass[keep],
            pixels=pixels / 255,
        )
