"""CLMLF: composes already-built parts (text/image encoders, TE_I, TE_M, pooler, classifier, projections)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Literal, NamedTuple

import torch
from huggingface_hub import ModelCard, ModelHubMixin
from torch import Tensor, nn

from clmlf.checks import (
    check_batch_sizes, check_image_features, check_pixels, check_text_features, check_token_ids, max_text_positions,
    pixel_expectations,
)
from clmlf.contracts import checked_output, require_part, trainable_part
from clmlf.errors import ContractError, SpecError
from clmlf.hub import checkpoint_folder
from clmlf.model_card import CARD_NAME, LIBRARY_NAME, TAGS, model_card
from clmlf.outputs import CLMLFOutput, EncoderOutput, PoolerOutput, TransformerOutput
from clmlf.registry import RegistryError
from clmlf.spec import COMPONENT_FIELDS, ComponentSpec, ModelSpec, load_model_spec, validate_spec

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
ASSETS_KEY = "assets"
"""config.json key: per part, the spec fields that name files inside the checkpoint (relative paths)."""



def build_part(name: str, spec: ComponentSpec, overrides: dict[str, Any]) -> nn.Module:
    """``spec.build(**overrides)``; a component that fails to build from a spec that validated (a value its library
    refuses, sizes too large for memory) is a :class:`SpecError` naming ``model.<name>`` (errors of clmlf's own
    checks pass as they are)."""
    try:
        return spec.build(**overrides)
    except (SpecError, ContractError, RegistryError, FileNotFoundError):
        raise
    except Exception as error:
        cause = " ".join(str(error).split()) or type(error).__name__
        if cause.startswith(f"model.{name}"):  # the component's own message names the field and the fix
            raise SpecError("config", [cause]) from error
        raise SpecError("config", [f"model.{name}: {spec.type!r} failed to build ({cause}); fix the value it names in "
                                   f"model.{name} (`clmlf validate` prints the resolved spec)"]) from error


class CLMLF(nn.Module, ModelHubMixin, library_name=LIBRARY_NAME, tags=list(TAGS)):
    """Text + image -> token-level fusion -> attention pooling -> classifier (paper Fig. 2).

    Parts are injected (TorchMultimodal style), so any of them can be swapped or used alone:
    ``text_encoder(input_ids, attention_mask) -> EncoderOutput``; ``image_encoder(pixel_values) -> EncoderOutput``;
    ``image_transformer(tokens) -> TransformerOutput``; ``fusion(text, text_mask, image) -> TransformerOutput``;
    ``pooler(hidden, mask) -> PoolerOutput``; ``head(pooled) -> logits``; ``projection(pooled) -> z``.
    ``image_encoder=None`` gives a text-only model; ``fusion=None`` pools [text; image] tokens directly.

    Sharing goes through huggingface_hub's :class:`~huggingface_hub.ModelHubMixin`: ``push_to_hub`` is the mixin's
    (it saves with :meth:`save_pretrained` and uploads the folder). :meth:`save_pretrained` and :meth:`from_pretrained`
    are CLMLF's own: the mixin's versions delete ``config.json`` before writing (not atomic) and read it back as
    ``__init__`` arguments, while a CLMLF is built from the spec in its ``config.json``.
    """

    _hub_mixin_config: dict = {}
    """Not None, so the mixin does not record ``__init__`` arguments (built modules) as a config: the spec is it."""

    def __init__(
        self,
        text_encoder: nn.Module,
        pooler: nn.Module,
        head: nn.Module,
        image_encoder: nn.Module | None = None,
        image_transformer: nn.Module | None = None,
        fusion: nn.Module | None = None,
        projection: nn.Module | None = None,
        augmented_projection: nn.Module | None = None,
        spec: ModelSpec | None = None,
    ) -> None:
        super().__init__()
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.image_transformer = image_transformer
        self.fusion = fusion
        self.pooler = pooler
        self.head = head
        self.projection = projection
        self.augmented_projection = augmented_projection
        self.spec = spec

    @classmethod
    def from_spec(cls, spec: ModelSpec, **overrides: Any) -> CLMLF:
        """Build every part from its spec; ``overrides`` are applied to each part whose spec has that field
        (e.g. ``pretrained=False`` to skip weight loading before a checkpoint is restored)."""
        parts = {}
        for name in COMPONENT_FIELDS:
            part_spec = getattr(spec, name)
            if part_spec is not None:
                own = {key: value for key, value in overrides.items() if key in type(part_spec).model_fields}
                parts[name] = build_part(name, part_spec, own)
        return cls(**parts, spec=spec)

    def encode_image(self, pixel_values: Tensor | None = None, image_features: Tensor | None = None) -> EncoderOutput | None:
        """Image tokens (B, Li, D) from pixels (B, 3, H, W) or cached backbone features (B, C, h, w), then TE_I."""
        if self.image_encoder is None or (pixel_values is None and image_features is None):
            return None
        if image_features is not None:
            image = require_part(self, "image_encoder", "tokens").tokens(image_features)
        else:
            image = self.image_encoder(pixel_values)
        image = checked_output(self, "image_encoder", image, EncoderOutput)
        if self.image_transformer is not None:
            encoded = checked_output(self, "image_transformer", self.image_transformer(image.hidden, image.mask), TransformerOutput)
            image = EncoderOutput(encoded.hidden, image.mask, image.pooled)
        return image

    def compile_parts(self, **options: Any) -> CLMLF:
        """``torch.compile`` the heavy parts in place (``options`` go to it): each layer of a BERT-style text backbone
        (so the paths that run only its upper layers on cached states are compiled too) or the whole backbone, the
        image backbone, TE_I and TE_M; an encoder without a ``backbone`` is compiled whole
        (:func:`clmlf.contracts.trainable_part`). The glue between them, the heads and the losses stay eager;
        parameter names and checkpoints do not change. Returns self."""
        text = trainable_part(self.text_encoder)
        layers = getattr(getattr(text, "encoder", None), "layer", None)
        image = None if self.image_encoder is None else trainable_part(self.image_encoder)
        parts = [*(layers if layers is not None else [text]), image, self.image_transformer, self.fusion]
        for part in parts:
            if part is not None:
                part.compile(**options)
        return self

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        pixel_values: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        image_features: Tensor | None = None,
        text_features: Tensor | None = None,
        view: Literal["original", "augmented"] = "original",
        return_attention: bool = False,
        text_depth: int | None = None,
    ) -> CLMLFOutput:
        """input_ids/attention_mask/token_type_ids: (B, Lt) — or cached text backbone states text_features
        (B, Lt, H) with attention_mask, taken after ``text_depth`` backbone layers (None: all of them);
        pixel_values: (B, 3, H, W) uint8 (the encoder normalises them) or normalised float, or cached
        image_features: (B, C, h, w).
        ``view="augmented"`` uses the augmented-view projection head (DBCL). Malformed inputs raise ValueError /
        TypeError naming the argument before any kernel runs (:meth:`_check_inputs`, called first by :meth:`fuse`)."""
        fused = self.fuse(input_ids, attention_mask, pixel_values, token_type_ids, image_features, text_features,
                          return_attention, text_depth)
        return self.heads(fused, view)

    def forward_pair(self, original: dict[str, Tensor], augmented: dict[str, Tensor]) -> tuple[CLMLFOutput, CLMLFOutput]:
        """Both DBCL views (``forward`` keyword dicts of B samples each) in one pass over 2B samples: fewer, larger
        kernels, the same outputs as ``self(**original)`` and ``self(**augmented, view="augmented")`` (texts are
        right-padded to a common length, which the masks hide). Two separate calls are taken instead where one pass
        would differ or cannot be formed: a backbone with BatchNorm in training mode (joint batch statistics) and
        image inputs of different sizes (e.g. cached maps of views drawn at another resolution)."""
        for view in (original, augmented):
            self._check_inputs(**view)
        batchnorm_training = any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training for m in self.modules())
        if batchnorm_training or not stackable(original, augmented):
            return self(**original), self(**augmented, view="augmented")
        fused = self.fuse(**concat_views(original, augmented))
        size = next(iter(original.values())).shape[0]
        return self.heads(fused.rows(slice(None, size)), "original"), self.heads(fused.rows(slice(size, None)), "augmented")

    def fuse(self, input_ids=None, attention_mask=None, pixel_values=None, token_type_ids=None, image_features=None,
             text_features=None, return_attention: bool = False, text_depth: int | None = None) -> FusedTokens:
        """Encoders, TE_I, TE_M and the pooler: everything before the task heads (arguments as in ``forward``)."""
        self._check_inputs(input_ids, attention_mask, pixel_values, token_type_ids, image_features, text_features)
        if text_features is not None:
            depth = {} if text_depth is None else {"depth": text_depth}  # plug-in text encoders cache full states only
            text = require_part(self, "text_encoder", "tokens").tokens(text_features, attention_mask, **depth)
        else:
            text = self.text_encoder(input_ids, attention_mask, token_type_ids)
        text = checked_output(self, "text_encoder", text, EncoderOutput)
        image = self.encode_image(pixel_values, image_features)
        image_hidden = None if image is None else image.hidden
        image_mask = None if image is None else image.mask
        if self.fusion is not None:
            fused = self.fusion(text.hidden, text.mask, image_hidden, image_mask, need_weights=return_attention)
            fused = checked_output(self, "fusion", fused, TransformerOutput)
            hidden, mask, attention = fused.hidden, fused.mask, fused.attentions
        elif image is None:
            hidden, mask, attention = text.hidden, text.mask, None
        else:
            hidden, mask, attention = torch.cat([text.hidden, image_hidden], 1), torch.cat([text.mask, image_mask], 1), None
        pooled = checked_output(self, "pooler", self.pooler(hidden, mask), PoolerOutput)
        return FusedTokens(hidden, mask, pooled.pooled, pooled.weights, attention, text.hidden.shape[1])

    def _check_inputs(self, input_ids=None, attention_mask=None, pixel_values=None, token_type_ids=None,
                      image_features=None, text_features=None, **_options: Any) -> None:
        """Refuse inputs that would fail deep inside a kernel (arguments as in ``forward``), naming the argument.
        Reads shapes and dtypes only: no device sync, plain Python that ``torch.compile`` traces away."""
        if self.image_encoder is not None and pixel_values is None and image_features is None:
            raise ValueError("this model has an image encoder: pass pixel_values (or cached image_features)")
        if attention_mask is None or (input_ids is None) == (text_features is None):
            raise ValueError("pass attention_mask with exactly one of input_ids or cached text_features")
        if input_ids is not None:
            check_token_ids(input_ids, attention_mask, token_type_ids, max_text_positions(self.text_encoder))
        else:
            check_text_features(text_features, attention_mask)
        images = {}
        if self.image_encoder is not None and image_features is not None:
            images = {"image_features": check_image_features(image_features)}
        elif self.image_encoder is not None:
            images = {"pixel_values": check_pixels(pixel_values, *pixel_expectations(self.image_encoder))}
        text = {"input_ids": input_ids} if input_ids is not None else {"text_features": text_features}
        check_batch_sizes({**text, **images})

    def heads(self, fused: FusedTokens, view: Literal["original", "augmented"] = "original") -> CLMLFOutput:
        """Classifier and (view-specific) contrastive projection on the pooled representation."""
        field = "augmented_projection" if view == "augmented" and self.augmented_projection else "projection"
        projection = getattr(self, field)
        return CLMLFOutput(
            logits=checked_output(self, "head", self.head(fused.pooled), Tensor),
            pooled=fused.pooled,
            fused=fused.hidden,
            fused_mask=fused.mask,
            z=None if projection is None else checked_output(self, field, projection(fused.pooled), Tensor),
            attention=fused.attention,
            pooling_weights=fused.pooling_weights,
            num_text_tokens=fused.num_text_tokens,
        )

    def save_pretrained(self, directory: str | Path, *, model_card_kwargs: dict[str, Any] | None = None,
                        config: None = None) -> Path:
        """Write ``config.json`` (full spec + versions), ``model.safetensors``, the model card ``README.md``
        (:func:`clmlf.model_card.model_card`; ``model_card_kwargs``: ``results``, a :class:`~clmlf.model_card.CardResults`
        to list, ``repo_id`` for its loading example) and what rebuilding the parts needs offline (:meth:`portable_spec`:
        e.g. ``text_encoder/`` with the Hugging Face config and tokenizer files) atomically into ``directory``: a copy
        of the folder loads anywhere, without the files the spec first named. ``config`` is the mixin's argument
        (``push_to_hub`` passes None): CLMLF's config is its spec. Returns ``directory``."""
        from safetensors.torch import save_model

        self._require_spec("save_pretrained")
        if config is not None:
            raise ValueError("CLMLF.save_pretrained writes config.json from the model's spec: pass no config")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory, prefix=".tmp-") as scratch:
            spec, assets = self.portable_spec(Path(scratch))
            saved = {"spec": spec.model_dump(mode="json"), "versions": library_versions(), ASSETS_KEY: assets}
            save_model(self, os.path.join(scratch, WEIGHTS_NAME))
            Path(scratch, CONFIG_NAME).write_text(json.dumps(saved, indent=2))
            model_card(saved, **(model_card_kwargs or {})).save(os.path.join(scratch, CARD_NAME))
            for entry in Path(scratch).iterdir():
                if (directory / entry.name).is_dir():
                    shutil.rmtree(directory / entry.name)
                os.replace(entry, directory / entry.name)
        return directory

    def generate_model_card(self, **model_card_kwargs: Any) -> ModelCard:
        """The card :meth:`save_pretrained` would write (``model_card_kwargs`` as there), for the spec as built."""
        self._require_spec("generate_model_card")
        return model_card({"spec": self.spec.model_dump(mode="json"), "versions": library_versions()}, **model_card_kwargs)

    def _require_spec(self, method: str) -> None:
        if self.spec is None:
            raise ValueError(f"{method} needs a model built from a spec (clmlf.build_model / CLMLF.from_spec)")

    def push_to_hub(self, repo_id: str, *, model_card_kwargs: dict[str, Any] | None = None, **options: Any) -> str:
        """:meth:`ModelHubMixin.push_to_hub <huggingface_hub.ModelHubMixin.push_to_hub>` (``options``: ``private``,
        ``token``, ``commit_message``, ``branch``, ``create_pr``, ...), with the card's loading example naming
        ``repo_id``. Returns the commit's URL."""
        return super().push_to_hub(repo_id, model_card_kwargs={"repo_id": repo_id, **(model_card_kwargs or {})}, **options)

    def portable_spec(self, folder: Path) -> tuple[ModelSpec, dict[str, list[str]]]:
        """The spec to save, for a checkpoint written into ``folder``: each part with the optional ``save_assets``
        capability writes its files into ``folder/<part>`` and names the spec fields that change: to paths there
        (stored relative to the checkpoint; the returned mapping lists them per part) or to None (e.g. a local
        weights file, which the checkpoint's weights replace)."""
        updates, assets = {}, {}
        for name in COMPONENT_FIELDS:
            part, part_spec = getattr(self, name), getattr(self.spec, name)
            if part_spec is None or not hasattr(part, "save_assets"):
                continue
            fields = part.save_assets(folder / name, part_spec)
            if fields:
                paths = {field: (PurePosixPath(name) / value).as_posix() for field, value in fields.items() if value is not None}
                updates[name] = part_spec.model_copy(update={field: paths.get(field) for field in fields})
                if paths:
                    assets[name] = sorted(paths)
        return self.spec.model_copy(update=updates), assets

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, map_location: str | torch.device = "cpu", *,
                        revision: str | None = None, cache_dir: str | Path | None = None, force_download: bool = False,
                        local_files_only: bool = False, token: str | bool | None = None) -> CLMLF:
        """Rebuild from a checkpoint folder or a Hub repository id (``user/name``; the other arguments go to
        :func:`clmlf.hub.checkpoint_folder`, which downloads into or reads from huggingface_hub's cache): from
        ``config.json`` (no pretrained download; the files :meth:`save_pretrained` stored beside it are found relative
        to the folder), then ``model.safetensors`` (no pickle). Returns the model in eval mode (call ``.train()`` to
        fine-tune it)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_model

        directory = checkpoint_folder(pretrained_model_name_or_path, revision, cache_dir, force_download, local_files_only, token)
        config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
        for path in (config_path, weights_path):
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing; a CLMLF checkpoint directory holds {CONFIG_NAME} and {WEIGHTS_NAME}")
        try:
            config = json.loads(config_path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{config_path}: not valid JSON ({error}); the checkpoint is damaged: restore or retrain it") from None
        data = config.get("spec") if isinstance(config, dict) else config
        if isinstance(config, dict) and isinstance(data, dict):
            data = with_asset_paths(data, config.get(ASSETS_KEY) or {}, directory)
        spec = validate_spec(ModelSpec, data, str(config_path), prefix=("spec",))
        model = cls.from_spec(spec, pretrained=False)
        try:
            load_model(model, str(weights_path), device=str(map_location))
        except (SafetensorError, RuntimeError) as error:  # a torn file, or weights of another architecture
            raise ValueError(f"{weights_path}: cannot load the weights ({' '.join(str(error).split())}); the checkpoint is "
                             f"damaged or does not match its {CONFIG_NAME}: restore or retrain it") from None
        return model.eval()


def with_asset_paths(spec: dict[str, Any], assets: dict[str, list[str]], directory: Path) -> dict[str, Any]:
    """``spec`` (a saved model spec) with the fields :meth:`CLMLF.portable_spec` stored relative to the checkpoint
    made absolute under ``directory``."""
    spec = dict(spec)
    for part, fields in assets.items():
        spec[part] = {**spec[part], **{field: str(directory / spec[part][field]) for field in fields}}
    return spec


class FusedTokens(NamedTuple):
    """What the heads read: fused tokens (B, L, D) and mask (B, L), pooled (B, D), pooling weights (B, L) or None,
    per-layer attentions or None, and the number of text tokens Lt."""

    hidden: Tensor
    mask: Tensor
    pooled: Tensor
    pooling_weights: Tensor | None
    attention: tuple[Tensor, ...] | None
    num_text_tokens: int

    def rows(self, index: slice) -> FusedTokens:
        """The same fields for the samples ``index`` of the batch."""
        take = lambda part: part[index] if isinstance(part, Tensor) else part  # noqa: E731
        attention = None if self.attention is None else tuple(take(layer) for layer in self.attention)
        return FusedTokens(take(self.hidden), take(self.mask), take(self.pooled), take(self.pooling_weights), attention, self.num_text_tokens)


TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "text_features")


def stackable(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Whether two views' inputs can share one batch: the same inputs, non-text tensors of the same shape per sample
    and dtype (uint8 and float pixels must not be promoted into one tensor), and equal non-tensor options (``text_depth``)."""
    if first.keys() != second.keys():
        return False
    for name in first:
        if not isinstance(first[name], Tensor):
            if first[name] != second[name]:
                return False
        elif name not in TEXT_INPUTS and (first[name].shape[1:], first[name].dtype) != (second[name].shape[1:], second[name].dtype):
            return False
    return True


def concat_views(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Stack two ``forward`` keyword dicts along the batch; text inputs (B, L[, H]) are right-padded with zeros
    (mask 0) to the longer length; non-tensor options (equal in both, see :func:`stackable`) are kept."""
    if first.keys() != second.keys():
        raise ValueError(f"the two views need the same inputs, got {sorted(first)} and {sorted(second)}")
    length = max(first["attention_mask"].shape[1], second["attention_mask"].shape[1])
    joint = {}
    for name in first:
        if not isinstance(first[name], Tensor):
            joint[name] = first[name]
            continue
        parts = [first[name], second[name]]
        if name in TEXT_INPUTS:
            parts = [nn.functional.pad(part, (0, 0) * (part.dim() - 2) + (0, length - part.shape[1])) for part in parts]
        with torch.autocast(parts[0].device.type, enabled=False):  # CPU autocast rejects cat of fp16 cached features
            joint[name] = torch.cat(parts)
    return joint


def library_versions() -> dict[str, str]:
    import transformers

    from clmlf import __version__

    return {"clmlf": __version__, "torch": torch.__version__, "transformers": transformers.__version__}


def build_model(spec: Any) -> CLMLF:
    """A :class:`CLMLF` from an ExperimentSpec, ModelSpec, mapping, YAML path or preset name (``"tiny"``)."""
    return CLMLF.from_spec(load_model_spec(spec))
