"""Everything between an ExperimentSpec and batches: dataset, image checks, transforms, feature cache, loaders."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from clmlf.contracts import cache_possible, frozen_layers, image_view_options, is_frozen, part_name, require, require_part
from clmlf.data.errors import BAD_IMAGES_HINT, problems_error
from clmlf.data.formatters import SentenceFormatter
from clmlf.data.images import check_images
from clmlf.data.samples import SPLITS, DatasetSplits
from clmlf.data.views import eval_transform
from clmlf.encoders.image_tokens import ImageTokenOptions
from clmlf.errors import ContractError, SpecError
from clmlf.model import CLMLF
from clmlf.registry import registry
from clmlf.spec import ComponentSpec, DataSpec, ExperimentSpec
from clmlf.train.disk_cache import default_cache_dir
from clmlf.train.feature_cache import cached_features
from clmlf.train.inputs import Collator, FeatureBank, PostDataset, TextBank
from clmlf.train.text_cache import text_bank

logger = logging.getLogger("clmlf")


def require_data(spec: ExperimentSpec) -> DataSpec:
    if spec.data is None:
        raise SpecError("config", ["data: field required for training/evaluation (e.g. data: {dataset: {type: mvsa_single}})"])
    return spec.data


def build_splits(dataset: ComponentSpec, root: str | None = None) -> DatasetSplits:
    """The splits a dataset spec (built-in or plugin) builds, read from ``root`` when given: a plugin dataset must
    take ``root`` if one is given and must return :class:`DatasetSplits` (docs/plugins.md)."""
    if root is not None and "root" not in type(dataset).model_fields:
        raise SpecError("config", [f"data.root: dataset {dataset.type!r} has no root field; drop data.root (--root) "
                                   "or give its spec a root field"])
    splits = dataset.build(**({"root": root} if root is not None else {}))
    if not isinstance(splits, DatasetSplits):
        raise ContractError("dataset", dataset.type, registry().entry("dataset", dataset.type).component,
                            f"returned a {type(splits).__name__}; it must return clmlf.data.samples.DatasetSplits")
    return splits


def load_splits(data: DataSpec) -> DatasetSplits:
    """The dataset named by ``data.dataset`` (``data.root`` overrides its own root), bad images handled per policy.
    Every split is scanned before anything is raised: one :class:`DataError` lists the problems of all three
    (empty splits, and with ``on_bad_image: error`` every unusable image, each named by its split)."""
    splits = build_splits(data.dataset, data.root)
    if not splits.has_images:
        return splits
    results = {name: check_images(splits.split(name), "skip") for name in SPLITS}
    problems = [f"{name}: the split has no samples; a dataset needs train, dev and test samples"
                for name in SPLITS if not splits.split(name)]
    if data.on_bad_image == "error":
        problems += [f"{name}: {error.brief()}" for name, result in results.items() for error in result.bad]
        hint = BAD_IMAGES_HINT
    else:
        for name, result in results.items():
            if result.skipped:
                logger.warning("%s/%s: %s", splits.name, name, result.summary())
        problems += [f"{name}: every one of its {result.skipped} images is unusable (listed above)"
                     for name, result in results.items() if result.skipped and not result.kept]
        hint = "Fix the image folder or the data root."
    if problems:
        raise problems_error(f"{splits.name} ({sum(len(splits.split(name)) for name in SPLITS)} samples)", problems, hint)
    return replace(splits, **{name: result.kept for name, result in results.items()})


def augmentation_transform(model: CLMLF, data: DataSpec):
    """The training view: ``data.augmentation`` with the fields it leaves unset (or None) taken from the data
    section (``image_size``) and the encoder (resize policy), so both views match in size."""
    options = image_view_options(model.image_encoder, data.image_size)
    if data.augmentation is None:
        return eval_transform(**options)
    own, given = data.augmentation.kwargs(), data.augmentation.model_fields_set
    fill = {key: value for key, value in options.items() if key in own and (own[key] is None or key not in given)}
    return data.augmentation.build(**fill)


@dataclass
class Inputs:
    """Loaders per split plus what produced them."""

    splits: DatasetSplits
    loaders: dict[str, DataLoader]
    collator: Collator
    uses_images: bool
    cached_text_train: DataLoader | None = None  # training batches of cached text states (frozen-text epochs)
    prefix_text_train: DataLoader | None = None  # ... of states after the text encoder's frozen_layers (fine-tuning epochs)

    def train_loader(self, text_frozen: bool) -> DataLoader:
        """The cheapest training loader for this stage: cached final states while the text backbone is frozen,
        cached states below its trainable layers while it is fine-tuned, else tokenised text."""
        cached = self.cached_text_train if text_frozen else self.prefix_text_train
        return cached if cached is not None else self.loaders["train"]


def build_inputs(
    spec: ExperimentSpec, model: CLMLF, device: torch.device, augmented_train: bool, splits: tuple[str, ...] = SPLITS,
    progress: bool = True,
) -> Inputs:
    """Dataset, views, collator, loaders and the caches the spec asks for (their progress bars unless ``progress``
    is False)."""
    data = require_data(spec)
    dataset = load_splits(data)
    if dataset.num_classes != spec.model.num_classes:
        raise SpecError("config", [f"model.num_classes: {spec.model.num_classes} but {dataset.name} has {dataset.num_classes} classes {dataset.label_names}"])
    uses_images = getattr(model, "image_encoder", None) is not None  # a model without one reads text only
    if uses_images and not dataset.has_images:
        raise SpecError("config", [f"model.image_encoder: {dataset.name} has no images; set model.image_encoder: null (text-only)"])
    eval_view = eval_transform(**image_view_options(model.image_encoder, data.image_size)) if uses_images else None
    train_view = augmentation_transform(model, data) if uses_images else None
    formatter = build_formatter(data)
    check_formatter(formatter, dataset, splits)
    collator = build_collator(model, formatter)
    cache_images = uses_images and data.cache_image_features and cache_possible(model, "image_encoder", "data.cache_image_features")
    banks = feature_banks(spec, model, dataset, eval_view, train_view, device, augmented_train, splits, progress) if cache_images else {}
    def loader(name: str, text_features=None) -> DataLoader:
        training = name == "train"
        items = PostDataset(  # both training views are augmented (docs/method.md §3); cached banks hold the eval view
            dataset.split(name), train_view if training else eval_view, train_view if training else None, banks.get(name),
            augmented=training and augmented_train, use_images=uses_images, text_features=text_features,
        )
        return DataLoader(
            items, batch_size=spec.train.batch_size if training else spec.train.eval_batch_size, shuffle=False,
            collate_fn=collator, num_workers=data.num_workers, pin_memory=device.type == "cuda",
            persistent_workers=data.num_workers > 0, prefetch_factor=4 if data.num_workers else None,  # keep a GPU fed
        )

    loaders = {name: loader(name) for name in splits}
    text_loaders = {}
    if "train" in splits and data.cache_text_features and cache_possible(model, "text_encoder", "data.cache_text_features"):
        text_loaders = {stage: loader("train", bank) for stage, bank in cached_text_banks(spec, model, collator, dataset, device, augmented_train, progress).items()}
    return Inputs(dataset, loaders, collator, uses_images, **text_loaders)


def check_formatter(formatter, dataset: DatasetSplits, splits: tuple[str, ...]) -> None:
    """An aspect formatter needs a dataset whose samples all have aspects (a missing one would read as empty); a
    dataset with aspects read by a formatter that ignores them gets one warning."""
    if not formatter.uses_aspect:
        with_aspect = sum(sample.aspect is not None for name in splits for sample in dataset.split(name))
        if with_aspect:
            logger.warning("%s: %d posts have an aspect, which data.formatter (%s) ignores; to read them set data.formatter: "
                           "{type: aspect}", dataset.name, with_aspect, type(formatter).__name__)
        return
    for name in splits:
        missing = next((sample for sample in dataset.split(name) if sample.aspect is None), None)
        if missing is not None:
            raise SpecError("config", [f"data.formatter: aspect, but {dataset.name}/{name} sample {missing.id!r} has no aspect "
                                       "(aspect data: twitter2015, twitter2017); use data.formatter: {type: sentence}"])


def build_formatter(data: DataSpec):
    """``data.formatter`` (default: sentence), checked against the formatter contract."""
    if data.formatter is None:
        return SentenceFormatter()
    formatter = data.formatter.build()
    require(formatter, "formatter", data.formatter.type, "uses_aspect")
    return formatter


def build_collator(model: CLMLF, formatter) -> Collator:
    """The collator that tokenises posts for ``model`` (training, evaluation and prediction)."""
    return Collator(text_tokenizer(model), formatter, model.text_encoder.max_length)


def text_tokenizer(model: CLMLF):
    """The text encoder's tokenizer: training, evaluation and prediction need ``tokenizer()`` and ``max_length``
    (docs/components.md#text_encoder); a missing one is a :class:`~clmlf.errors.ContractError`."""
    tokenizer = require_part(model, "text_encoder", "tokenizer", "max_length").tokenizer()
    if not callable(tokenizer):
        raise ContractError("text_encoder", part_name(model, "text_encoder"), type(model.text_encoder),
                            f"tokenizer() returned a {type(tokenizer).__name__}, not a callable used like a Hugging Face tokenizer")
    return tokenizer


def cached_text_banks(spec: ExperimentSpec, model: CLMLF, collator: Collator, dataset: DatasetSplits, device: torch.device,
                      augmented_train: bool, progress: bool = True) -> dict[str, TextBank]:
    """The text caches the schedule can use: final states for frozen-text epochs, and states after the encoder's
    ``frozen_layers`` for fine-tuning epochs (only encoders that expose ``frozen_layers`` support the latter)."""
    encoder, train = model.text_encoder, spec.train
    frozen = is_frozen(encoder)
    wanted = {}
    if train.text_freeze_epochs > 0 or frozen:
        wanted["cached_text_train"] = None
    if frozen_layers(encoder) and not frozen and train.epochs > train.text_freeze_epochs:
        wanted["prefix_text_train"] = frozen_layers(encoder)
    cache_dir = cache_directory(spec.data)
    return {stage: text_bank(encoder, collator, dataset.train, device, augmented_train, cache_dir, depth, progress) for stage, depth in wanted.items()}


def cache_directory(data: DataSpec) -> Path:
    """Where cached image features and text states live (``data.feature_cache_dir`` or the user cache)."""
    return Path(data.feature_cache_dir) if data.feature_cache_dir else default_cache_dir()


def feature_banks(spec, model, dataset, eval_view, train_view, device, augmented_train, splits, progress: bool = True) -> dict[str, FeatureBank]:
    encoder = model.image_encoder
    if not is_frozen(encoder):
        raise SpecError("config", ["data.cache_image_features needs a frozen image encoder (model.image_encoder.freeze: true)"])
    data = spec.data
    cache_dir = cache_directory(data)
    token_options = set(ImageTokenOptions.model_fields) - {"pretrained"}  # these don't change the backbone's maps
    encoder_spec = spec.model.image_encoder.model_dump(mode="json", exclude=token_options)
    banks = {}
    for name in splits:
        samples = dataset.split(name)
        views = [cached_features(encoder, encoder_spec, samples, eval_view, 0, cache_dir, device, seed=spec.train.seed, progress=progress)]
        if name == "train" and augmented_train and data.augmentation is not None:
            views += [
                cached_features(encoder, encoder_spec, samples, train_view, view, cache_dir, device, seed=spec.train.seed, progress=progress)
                for view in range(1, data.augmented_image_views + 1)
            ]
        banks[name] = FeatureBank(tuple(views))
    return banks
