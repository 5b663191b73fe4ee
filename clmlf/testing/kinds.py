"""One check per registry kind: run the built component on tiny inputs and check what its contract promises.

Each check takes ``(component, spec, where, sizes)`` and returns the float tensors it produced (with their autograd
graph), so that the caller can check they are finite and that gradients reach every trainable parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from clmlf.outputs import EncoderOutput, PoolerOutput, TransformerOutput
from clmlf.testing.where import Where

TEXTS = ("what a great sunny day at the beach with all my friends", "rain again")
PAD_FIX = "padding positions (mask False) must not change the outputs at real positions; mask them out of attention"


@dataclass(frozen=True)
class Sizes:
    """Tiny input sizes: batch, sequence length, model width, classes."""

    d_model: int = 32
    num_classes: int = 3
    batch: int = 2
    length: int = 7
    image: int = 64


def field(spec: Any, name: str) -> Any:
    """A spec field's value, or None when the spec has no such field."""
    return getattr(spec, name) if name in type(spec).model_fields else None


def text_inputs(encoder: Any, where: Where) -> dict[str, Tensor]:
    """(2, L) ``input_ids`` / ``attention_mask`` (/ ``token_type_ids``), row 1 padded: from the encoder's own
    ``tokenizer()`` when it has one (called the Hugging Face way), else random ids below 100."""
    if not hasattr(encoder, "tokenizer"):
        ids = torch.randint(1, 100, (2, 7))
        mask = torch.ones(2, 7, dtype=torch.long)
        mask[1, 4:] = 0
        return {"input_ids": ids, "attention_mask": mask}
    max_length = getattr(encoder, "max_length", None)
    where.expect(isinstance(max_length, int), f"max_length is {max_length!r}; a text encoder with tokenizer() needs an int "
                                              "max_length attribute (the longest token sequence the collator makes)")
    batch = encoder.tokenizer()(list(TEXTS), None, padding=True, max_length=max_length, return_tensors="pt", truncation=True)
    where.expect("input_ids" in batch and "attention_mask" in batch,
                 f"tokenizer() returned keys {sorted(batch)}; it must return input_ids and attention_mask tensors")
    inputs = {key: batch[key] for key in ("input_ids", "attention_mask", "token_type_ids") if key in batch}
    for key, value in inputs.items():
        where.shape(f"tokenizer()[{key!r}]", value, (2, None), "(B, L) for B=2 texts")
    mask = inputs["attention_mask"]
    where.expect(mask.shape == inputs["input_ids"].shape and mask[1].sum() < mask[0].sum() and mask.dtype != torch.float,
                 "tokenizer(texts, None, padding=True, ...) must pad the shorter text to the batch length with "
                 "attention_mask 0 there (an integer or bool (B, L) mask)")
    return inputs


def check_encoder_output(out: Any, where: Where, batch: int, length: int | None, d_model: int | None) -> None:
    where.expect(isinstance(out, EncoderOutput), f"forward returned {type(out).__name__}; return "
                                                 "clmlf.EncoderOutput(hidden (B, L, D), mask (B, L) bool, pooled (B, D))")
    fix = "set d_model from the spec's d_model field" if d_model is not None else ""
    where.shape("hidden", out.hidden, (batch, length, d_model), "(B, L, d_model)", fix)
    where.expect(out.hidden.is_floating_point(), f"hidden is {out.hidden.dtype}; return float token states")
    where.shape("mask", out.mask, tuple(out.hidden.shape[:2]), "(B, L) like hidden")
    where.expect(out.mask.dtype == torch.bool, f"mask is {out.mask.dtype}; return a bool mask (True at real tokens)")
    if out.pooled is not None:
        where.shape("pooled", out.pooled, (batch, out.hidden.shape[2]), "(B, D) like hidden's D")


def check_text_encoder(encoder: Any, spec: Any, where: Where, sizes: Sizes) -> list[Tensor]:
    inputs = text_inputs(encoder, where)
    ids, mask, types = inputs["input_ids"], inputs["attention_mask"], inputs.get("token_type_ids")
    out = encoder(ids, mask, types)
    check_encoder_output(out, where, 2, ids.shape[1], field(spec, "d_model"))
    where.expect(torch.equal(out.mask, mask.bool()), "mask must be True exactly where attention_mask is 1")
    extra = 3  # the same rows with three more padding positions holding real ids
    longer = encoder(torch.cat([ids, ids[:, :extra]], 1), torch.cat([mask, torch.zeros_like(mask[:, :extra])], 1),
                     None if types is None else torch.cat([types, torch.zeros_like(types[:, :extra])], 1))
    real = mask.bool()
    where.close("hidden at real tokens changes when padding is added", longer.hidden[:, : ids.shape[1]][real], out.hidden[real], PAD_FIX)
    if out.pooled is not None:
        where.close("pooled changes when padding is added", longer.pooled, out.pooled, PAD_FIX)
    return [out.hidden] + ([out.pooled] if out.pooled is not None else [])


def check_image_encoder(encoder: Any, spec: Any, where: Where, sizes: Sizes) -> list[Tensor]:
    pixels = torch.randint(0, 256, (2, 3, sizes.image, sizes.image), dtype=torch.uint8)
    out = encoder(pixels)
    check_encoder_output(out, where, 2, None, field(spec, "d_model"))
    return [out.hidden] + ([out.pooled] if out.pooled is not None else [])


def padded_pair(sizes: Sizes) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """(B, L, D) states with row 0 padded after 4 positions, and the same rows with 3 more padding positions; the
    padding holds large garbage."""
    hidden = torch.randn(sizes.batch, sizes.length, sizes.d_model)
    mask = torch.ones(sizes.batch, sizes.length, dtype=torch.bool)
    mask[0, 4:] = False
    hidden[0, 4:] = -50.0
    longer = torch.cat([hidden, 100 * torch.randn(sizes.batch, 3, sizes.d_model)], 1)
    return (hidden, mask), (longer, torch.cat([mask, torch.zeros(sizes.batch, 3, dtype=torch.bool)], 1))


def check_transformer_output(out: Any, where: Where, call: str) -> None:
    where.expect(isinstance(out, TransformerOutput), f"{call} returned {type(out).__name__}; return "
                                                     "clmlf.TransformerOutput(hidden (B, L, D), mask (B, L) bool)")
    where.shape("mask", out.mask, tuple(out.hidden.shape[:2]), "(B, L) like hidden")


def check_image_transformer(module: Any, spec: Any, where: Where, sizes: Sizes) -> list[Tensor]:
    (hidden, mask), (longer, long_mask) = padded_pair(sizes)
    out, out_long = module(hidden, mask), module(longer, long_mask)
    check_transformer_output(out, where, "forward(hidden, mask)")
    where.shape("hidden", out.hidden, tuple(hidden.shape), "(B, L, D) like its input")
    where.close("hidden at real tokens changes when padding is added", out_long.hidden[:, : sizes.length][mask], out.hidden[mask], PAD_FIX)
    return [out.hidden]


def check_fusion(module: Any, spec: Any, where: Where, sizes: Sizes) -> list[Tensor]:
    """Token-level fusion keeps Lt + Li positions, a summarising one fewer; either way real outputs ignore padding."""
    (text, text_mask), (long_text, long_mask) = padded_pair(sizes)
    image = torch.randn(sizes.batch, 5, sizes.d_model)
    image_mask = torch.ones(sizes.batch, 5, dtype=torch.bool)
    out, out_long = module(text, text_mask, image, image_mask), module(long_text, long_mask, image, image_mask)
    check_transformer_output(out, where, "forward(text, text_mask, image, image_mask)")
    where.shape("hidden", out.hidden, (sizes.batch, None, sizes.d_model), "(B, L, D)")
    for row in range(sizes.batch):
        where.close(f"row {row}: outputs at real positions change when text padding is added",
                    out_long.hidden[row][out_long.mask[row]], out.hidden[row][out.mask[row]], PAD_FIX)
    return [out.hidden]


def check_pooler(module: Any, spec: Any, where: Where, sizes: Sizes) -> list[Tensor]:
    (hidden, mask), (longer, long_mask) = padded_pair(sizes)
    out, out_long = module(hidden, mask), module(longer, long_mask)
    where.expect(isinstance(out, PoolerOutput), f"forward returned {type(out).__name__}; return "
                                                "clmlf.PoolerOutput(pooled (B, D), weights (B, L) or None)")
    where.shape("pooled", out.pooled, (sizes.batch, sizes.d_model), "(B, D)")
    where.close("pooled changes when padding is added", out_long.pooled, out.pooled, PAD_FIX)
    if out.weights is not None:
        where.shape("weights", out.weights, tuple(mask.shape), "(B, L)")
        where.expect(bool((out.weights[~mask] == 0).all()), "weights must be 0 at padding positions")
        where.close("weights rows must sum to 1", out.weights.sum(1), torch.ones(sizes.batch), "normalise over real tokens")
    return [out.pooled]


def check_head(module: Any, spec: Any, where: Where, sizes: Sizes) -> list[Tensor]:
    logits = module(torch.randn(sizes.batch, sizes.d_model))
    where.shape("logits", logits, (sizes.batch, field(spec, "num_classes")), "(B, num_classes)")
    return [logits]


def check_projection(module: Any, spec: Any, where: Where, sizes: Sizes) -> list[Tensor]:
    z = module(torch.randn(sizes.batch, sizes.d_model))
    where.shape("z", z, (sizes.batch, field(spec, "out_dim")), "(B, P)")
    return [z]


def check_formatter(formatter: Any, spec: Any, where: Where, sizes: Sizes) -> list[Tensor]:
    from transformers import AutoTokenizer

    from clmlf.encoders.text_offline import minilm_dir

    where.expect(isinstance(getattr(formatter, "uses_aspect", None), bool), "needs a bool attribute uses_aspect")
    batch = formatter(AutoTokenizer.from_pretrained(minilm_dir()), list(TEXTS), ["day", "rain"], max_length=16)
    for key in ("input_ids", "attention_mask"):
        where.expect(key in batch, f"returned keys {sorted(batch)}; return a dict with input_ids and attention_mask")
        where.shape(key, batch[key], (2, None), "(B, L) for B=2 texts")
    return []


def check_dataset(splits: Any, spec: Any, where: Where, sizes: Sizes) -> list[Tensor]:
    from clmlf.data.samples import SPLITS, DatasetSplits

    where.expect(isinstance(splits, DatasetSplits), f"built a {type(splits).__name__}; return clmlf.data.samples.DatasetSplits")
    where.expect(splits.num_classes >= 2, f"label_names {splits.label_names}: a classifier needs at least two classes")
    for split in SPLITS:
        samples = splits.split(split)
        where.expect(len(samples) > 0, f"the {split} split is empty")
        wrong = [s.id for s in samples if not (isinstance(s.text, str) and 0 <= s.label < splits.num_classes)]
        where.expect(not wrong, f"{split} samples {wrong[:3]} need a str text and a label index below {splits.num_classes}")
        if splits.has_images:
            missing = [s.id for s in samples if s.image_path is None or not s.image_path.is_file()]
            where.expect(not missing, f"has_images is true but {split} samples {missing[:3]} have no image file")
    return []


def check_augmentation(transform: Any, spec: Any, where: Where, sizes: Sizes) -> list[Tensor]:
    from PIL import Image

    size = field(spec, "image_size") or 224
    view = transform(Image.new("RGB", (90, 70), (200, 30, 30)))
    where.shape("the view", view, (3, size, size), "(3, S, S) with S = image_size")
    where.expect(view.dtype == torch.uint8, f"the view is {view.dtype}; return uint8 pixels (the encoder normalises)")
    return []


def check_loss(term: Any, spec: Any, where: Where, sizes: Sizes) -> list[Tensor]:
    """A :class:`clmlf.losses.TrainingStep` of random tensors in; a 0-d loss (or ``LossOutput``) out, with a gradient
    into the logits or projections it reads."""
    from clmlf.losses.terms import TrainingStep
    from clmlf.outputs import CLMLFOutput

    batch, uses = 8, getattr(spec, "uses", frozenset())
    logits = torch.randn(batch, sizes.num_classes, requires_grad=True)
    labels = torch.arange(batch) % sizes.num_classes
    z = torch.randn(batch, 16, requires_grad=True)
    z_aug = torch.randn(batch, 16, requires_grad=True) if "z_aug" in uses else None
    output = CLMLFOutput(logits=logits, pooled=torch.randn(batch, sizes.d_model), fused=torch.randn(batch, 5, sizes.d_model),
                         fused_mask=torch.ones(batch, 5, dtype=torch.bool), z=z)
    value = term(TrainingStep(logits=logits, labels=labels, z=z, z_aug=z_aug, output=output, output_aug=None))
    total = getattr(value, "total", value)
    where.expect(isinstance(total, Tensor) and total.dim() == 0,
                 f"returned {type(value).__name__}; return a 0-d tensor or LossOutput(total 0-d, terms)")
    total.backward(retain_graph=True)
    reached = [name for name, tensor in (("logits", logits), ("z", z), ("z_aug", z_aug)) if tensor is not None and tensor.grad is not None]
    where.expect(bool(reached), "no gradient reaches logits, z or z_aug: the loss must be computed from the step's tensors")
    return [total]


CHECKS: dict[str, Callable[[Any, Any, Where, Sizes], list[Tensor]]] = {
    "text_encoder": check_text_encoder,
    "image_encoder": check_image_encoder,
    "image_transformer": check_image_transformer,
    "fusion": check_fusion,
    "pooler": check_pooler,
    "head": check_head,
    "projection": check_projection,
    "formatter": check_formatter,
    "dataset": check_dataset,
    "augmentation": check_augmentation,
    "loss": check_loss,
}
