"""Does a config that validates also run? Build its model with random weights and push two short posts through it at
the configured image size, turning every failure into a :class:`~clmlf.errors.SpecError` line with the dotted path
of the part that failed and, for the known incompatibilities, the fix: a ViT's fixed image size, a tokenizer of
another model family, a hub name that cannot be resolved offline, constructor arguments a model refuses.
``clmlf validate`` and ``clmlf train`` / ``ablate`` run it before anything is trained (a second or two for the tiny
config; the model is built twice, without pretrained weights here)."""

from __future__ import annotations

import torch

from clmlf.checks import max_text_positions
from clmlf.errors import SpecError
from clmlf.spec import COMPONENT_FIELDS, DataSpec, ExperimentSpec

TEXTS = ("a great sunny day at the beach", "sad")
ASPECTS = ("day", "rain")


def check_runnable(spec: ExperimentSpec, source: str = "config") -> None:
    """Raise :class:`SpecError` (``source``: the config's name) listing what fails when ``spec``'s model is built
    (``pretrained=False``), tokenizes two short texts with the configured formatter and runs a forward pass on them
    with images of ``data.image_size``."""
    from clmlf.model import CLMLF, build_part

    parts, problems = {}, []
    for name in COMPONENT_FIELDS:
        part_spec = getattr(spec.model, name)
        if part_spec is not None:
            own = {"pretrained": False} if "pretrained" in type(part_spec).model_fields else {}
            attempt(problems, f"model.{name}", lambda: parts.__setitem__(name, build_part(name, part_spec, own)))
    if problems:
        raise SpecError(source, problems)
    model = CLMLF(**parts, spec=spec.model).eval()
    length, positions = getattr(model.text_encoder, "max_length", None), max_text_positions(model.text_encoder)
    if isinstance(length, int) and positions is not None and length > positions:
        problems.append(f"model.text_encoder.max_length: {length} exceeds the model's {positions} token positions; "
                        f"set max_length <= {positions}")
    text = attempt(problems, "model.text_encoder", lambda: tokenized(spec, model))
    size = spec.data.image_size if spec.data is not None else DataSpec.model_fields["image_size"].default
    pixels = torch.randint(0, 256, (len(TEXTS), 3, size, size), dtype=torch.uint8)
    with torch.no_grad():
        if text is not None:
            attempt(problems, "model.text_encoder", lambda: model.text_encoder(**text))
        if model.image_encoder is not None:
            attempt(problems, "model.image_encoder", lambda: model.image_encoder(pixels))
        if not problems:
            images = {} if model.image_encoder is None else {"pixel_values": pixels}
            attempt(problems, "model", lambda: model(**text, **images))
    if problems:
        raise SpecError(source, problems)


def tokenized(spec: ExperimentSpec, model) -> dict[str, torch.Tensor]:
    """:data:`TEXTS` as the collator makes them: the text encoder's tokenizer through the configured formatter."""
    from clmlf.data.formatters import SentenceFormatter
    from clmlf.train.pipeline import build_formatter, text_tokenizer

    formatter = build_formatter(spec.data) if spec.data is not None else SentenceFormatter()
    aspects = list(ASPECTS) if formatter.uses_aspect else None
    return formatter(text_tokenizer(model), list(TEXTS), aspects, max_length=model.text_encoder.max_length)


def attempt(problems: list[str], path: str, step):
    """``step()``, or None after appending one problem line for what it raised: the library's own messages (they
    start with the dotted path) as they are, others as ``path: <exception type>: <first line>``."""
    try:
        return step()
    except SpecError as error:  # already lines with their dotted paths
        problems.extend(error.problems)
        return None
    except Exception as error:  # noqa: BLE001 - whatever fails here would fail in training: report it as a line
        message = (str(error).strip().splitlines() or [""])[0]
        problems.append(message if message.startswith(path) else f"{path}: {type(error).__name__}: {message}")
        return None
