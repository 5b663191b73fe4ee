"""Pydantic specs: one frozen, ``extra="forbid"`` spec per component, dispatched on ``type`` through the live registry.

A spec's :meth:`ComponentSpec.build` is the only bridge from config to code: it calls the registered
component with the spec's fields as keyword arguments. Fields that hold another component are typed
``Component("kind")``; they validate a mapping by looking up its ``type`` in the registry *at validation
time*, so a plugin's spec validates exactly like a built-in one and errors keep their dotted path.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError, core_schema

from clmlf.errors import SpecError
from clmlf.registry import RegistryError, did_you_mean, registry

SHARED_SIZES = ("d_model", "num_classes")
MAX_WIDTH, MAX_IMAGE_SIZE, MAX_LAYERS = 65536, 4096, 256
"""Upper bounds of sizes (widths, image side, layer counts): far above any real model, below what exhausts memory."""
"""Sizes a :class:`ModelSpec` fills into the component specs that leave them None."""


class ComponentSpec(BaseModel):
    """Base of every component spec. Subclasses declare ``type: Literal["name"] = "name"`` plus constructor kwargs."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())
    component_kind: ClassVar[str] = ""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Describe every subclass's ``type`` field here, once, instead of in each ``type: Literal[...]`` line."""
        super().__pydantic_init_subclass__(**kwargs)
        field = cls.model_fields.get("type")
        if field is not None and not field.description:
            field.description = "the registered name of the component (`clmlf components` lists them)"
            cls.model_rebuild(force=True)

    @classmethod
    def registered_kind(cls) -> str:
        """The registry kind of this spec class (found in the registry for a spec class constructed directly)."""
        if not cls.__dict__.get("component_kind"):
            cls.component_kind = registry().kind_of(cls)
        return cls.component_kind

    @classmethod
    def example(cls) -> dict[str, Any]:
        """Fields of a tiny, offline configuration (random weights, a few samples) for contract tests and
        :func:`clmlf.testing.check_component`; shared sizes (``d_model``, ``num_classes``) are filled by the caller."""
        return {}

    def kwargs(self) -> dict[str, Any]:
        """Constructor keyword arguments: every field but ``type`` (nested specs stay spec objects)."""
        return {name: getattr(self, name) for name in type(self).model_fields if name != "type"}

    def build(self, **overrides: Any) -> Any:
        """Instantiate the registered component with this spec's fields (``overrides`` win). A shared size
        (:data:`SHARED_SIZES`) still None, as in a spec built outside a :class:`ModelSpec`, is not passed: the
        component's own default applies."""
        component = registry().entry(self.registered_kind(), self.type).component
        kwargs = {name: value for name, value in self.kwargs().items() if not (name in SHARED_SIZES and value is None)}
        return component(**{**kwargs, **overrides})


class Component:
    """Field annotation for "a spec of this kind": ``text_encoder: Annotated[ComponentSpec, Component("text_encoder")]``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def validate(self, value: Any) -> ComponentSpec:
        if isinstance(value, ComponentSpec):
            try:
                got = value.registered_kind()
            except RegistryError as error:
                raise PydanticCustomError("unregistered_spec", str(error)) from None
            if got != self.kind:
                raise PydanticCustomError(
                    "wrong_component_kind",
                    "expected a {kind} spec, got a {got} spec ({name})",
                    {"kind": self.kind, "got": got, "name": type(value).__name__},
                )
            return value
        if not isinstance(value, Mapping):
            raise PydanticCustomError(
                "component_mapping", "expected a mapping with a `type` key naming a {kind}", {"kind": self.kind}
            )
        known = registry().names(self.kind)
        name = value.get("type")
        if name is None or name not in known:
            message = (
                f"field required: name the {self.kind} with `type`; known: {', '.join(known)}"
                if name is None
                else f"unknown {self.kind} {name!r}; known: {', '.join(known)}.{did_you_mean(str(name), known)}"
            )
            raise ValidationError.from_exception_data(
                "ComponentSpec",
                [{"type": PydanticCustomError("unknown_component", message), "loc": ("type",), "input": name}],
            )
        return registry().entry(self.kind, name).spec.model_validate(dict(value))

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda spec, info: spec.model_dump(mode=info.mode), info_arg=True
            ),
        )

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        variants = [handler(entry.spec.__pydantic_core_schema__) for entry in registry().entries(self.kind)]
        return {"oneOf": variants, "title": self.kind}


def format_errors(error: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[str]:
    """``["model.fusion.bogus: extra inputs are not permitted", ...]`` — one line per problem."""
    lines = []
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in (*prefix, *item["loc"])) or "<root>"
        message = item["msg"]
        lines.append(f"{path}: {message[:1].lower()}{message[1:]}")
    return lines


def validate_spec(spec_cls: type[BaseModel], data: Any, source: str = "spec", prefix: tuple[str | int, ...] = ()) -> Any:
    """``spec_cls.model_validate(data)`` that raises :class:`SpecError` listing every problem."""
    try:
        return spec_cls.model_validate(data)
    except ValidationError as error:
        raise SpecError(source, format_errors(error, prefix)) from None


def read_yaml(source: str | Path) -> dict[str, Any]:
    """The YAML mapping of a config path or preset name (:func:`clmlf.presets.resolve_config`); a missing file or
    preset and syntax errors become :class:`SpecError`."""
    import yaml

    from clmlf.presets import resolve_config
    from clmlf.yaml_strict import load_strict

    path = resolve_config(source)
    try:
        data = load_strict(path.read_text())
    except (yaml.YAMLError, ValueError) as error:
        raise SpecError(str(path), [yaml_problem(error)]) from None
    if not isinstance(data, dict):
        raise SpecError(str(path), ["<root>: expected a mapping at the top level"])
    return data


def yaml_problem(error: Exception) -> str:
    """``"line L, column C: invalid YAML (problem)"`` for a YAML error (``<root>: ...`` without a position)."""
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<root>"
    return f"{where}: invalid YAML ({getattr(error, 'problem', None) or error})"


def apply_overrides(data: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Apply ``["train.epochs=3", "model.fusion.num_layers=2"]`` (values parsed as YAML) to a nested mapping copy.
    In a list a segment selects an item by index or by the ``type`` of exactly one item (``losses.dbcl.weight=0.3``,
    ``losses.1.temperature=0.1``)."""
    import copy

    import yaml

    from clmlf.yaml_strict import load_strict

    data = copy.deepcopy(data)
    problems = []
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key.strip():
            problems.append(f"--set {assignment!r}: expected KEY=VALUE with a dotted KEY, e.g. train.epochs=3")
            continue
        *parents, leaf = key.strip().split(".")
        node = data
        try:
            for part in parents:
                node = node[list_index(node, part)] if isinstance(node, list) else node.setdefault(part, {})
                if not isinstance(node, (dict, list)):
                    raise ValueError(f"{part!r} is not a mapping or a list")
            node[list_index(node, leaf) if isinstance(node, list) else leaf] = load_strict(raw)
        except yaml.YAMLError as error:
            problems.append(f"--set {assignment!r}: the value, {yaml_problem(error)}; quote a string, close brackets "
                            "and braces ([1, 2], {type: x})")
        except ValueError as error:
            problems.append(f"--set {assignment!r}: {error}")
    if problems:
        raise SpecError("--set", problems)
    return data


def list_index(items: list[Any], part: str) -> int:
    """The index a dotted segment names in ``items``: an integer, or the ``type`` of exactly one item."""
    if part.lstrip("-").isdigit():
        if not -len(items) <= int(part) < len(items):
            raise ValueError(f"index {part} is out of range: the list has {len(items)} items")
        return int(part) % len(items)
    types = [item.get("type") if isinstance(item, dict) else None for item in items]
    matches = [index for index, name in enumerate(types) if name == part]
    if len(matches) != 1:
        listed = ", ".join(f"{index}: {name}" for index, name in enumerate(types))
        reason = "is the type of several items; select one by index" if matches else "is neither an index nor the type of an item"
        raise ValueError(f"{part!r} {reason} ({listed})")
    return matches[0]


def component(kind: str) -> Any:
    """Annotation for a field holding a spec of ``kind``: ``fusion: component("fusion")``."""
    from typing import Annotated

    return Annotated[ComponentSpec, Component(kind)]


class ModelSpec(BaseModel):
    """The CLMLF architecture. ``d_model`` and ``num_classes`` flow into components that leave them unset.

    ``image_encoder: null`` gives a text-only model; ``fusion: null`` pools the concatenated
    [text; image] tokens without the fusion Transformer (the ablations of paper Table 3).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    d_model: int = Field(768, ge=1, le=MAX_WIDTH, description="token width shared by every component that leaves its own d_model unset")
    num_classes: int = Field(3, ge=2, description="number of labels (3 for MVSA, 2 for HFM)")
    text_encoder: component("text_encoder") = Field(description="text -> tokens (docs/encoders.md)")
    image_encoder: component("image_encoder") | None = Field(None, description="image -> tokens (docs/encoders.md); null: text only")
    image_transformer: component("image_transformer") | None = Field(None, description="TE_I over the image tokens; null: none")
    fusion: component("fusion") | None = Field(None, description="TE_M over [text; image] tokens; null: pool them directly")
    pooler: component("pooler") = Field(description="fused tokens -> one vector (attention pooling in the paper)")
    head: component("head") = Field(description="pooled vector -> class logits")
    projection: component("projection") | None = Field(None, description="pooled vector -> contrastive projection z (LBCL, DBCL)")
    augmented_projection: component("projection") | None = Field(None, description="projection of the augmented view (DBCL); null: projection")

    @model_validator(mode="after")
    def _fill_shared_sizes(self) -> ModelSpec:
        shared = {name: getattr(self, name) for name in SHARED_SIZES}
        for name in COMPONENT_FIELDS:
            spec = getattr(self, name)
            if spec is None:
                continue
            fill = {key: value for key, value in shared.items() if key in type(spec).model_fields and getattr(spec, key) is None}
            for key, value in shared.items():
                own = getattr(spec, key, None) if key in type(spec).model_fields else None
                if own is not None and own != value:
                    raise ValueError(f"{name}.{key}={own} differs from model {key}={value}; leave it unset to inherit")
            if fill:
                object.__setattr__(self, name, spec.model_copy(update=fill))
        if self.image_transformer is not None and self.image_encoder is None:
            raise ValueError("image_transformer is set but image_encoder is null; drop one of them")
        if self.augmented_projection is not None and self.projection is None:
            raise ValueError("augmented_projection needs a projection for the original view")
        problems = [problem for name in COMPONENT_FIELDS if (problem := head_count_problem(name, getattr(self, name)))]
        if problems:
            raise ValidationError.from_exception_data("ModelSpec", problems)
        return self

    def build(self):
        """The :class:`clmlf.CLMLF` this spec describes (random or pretrained weights as the specs say)."""
        from clmlf.model import CLMLF

        return CLMLF.from_spec(self)


COMPONENT_FIELDS = (
    "text_encoder", "image_encoder", "image_transformer", "fusion", "pooler", "head", "projection", "augmented_projection",
)


def head_count_problem(name: str, spec: ComponentSpec | None) -> dict[str, Any] | None:
    """A pydantic line error at ``(name, "num_heads")`` when a component spec with both ``num_heads`` and a (filled)
    ``d_model`` splits d_model into unequal heads; None otherwise (specs without ``num_heads``, e.g. plugins', pass)."""
    fields = type(spec).model_fields if spec is not None else {}
    if "num_heads" not in fields or "d_model" not in fields:
        return None
    d_model, num_heads = spec.d_model, spec.num_heads
    if not isinstance(d_model, int) or not isinstance(num_heads, int) or num_heads < 1 or d_model % num_heads == 0:
        return None
    nearest = " or ".join(map(str, nearest_divisors(d_model, num_heads)))
    message = (f"d_model={d_model} is not divisible by num_heads={num_heads} (each head takes d_model / num_heads "
               f"features); set num_heads to a divisor of {d_model}, e.g. {nearest}")
    return {"type": PydanticCustomError("num_heads_divides_d_model", message), "loc": (name, "num_heads"), "input": num_heads}


def nearest_divisors(number: int, near: int) -> list[int]:
    """The divisors of ``number`` just below and just above ``near`` (one of them when ``near`` is out of range)."""
    divisors = [d for d in range(1, number + 1) if number % d == 0]
    below = [d for d in divisors if d < near][-1:]
    above = [d for d in divisors if d > near][:1]
    return below + above


class DataSpec(BaseModel):
    """Which dataset and how samples become model inputs.

    ``root`` overrides the dataset's own ``root``; with neither, ``CLMLF_DATA_DIR``, then a ``shared/data`` folder
    found upwards (:mod:`clmlf.data.root`). ``augmentation`` makes the training
    image views (null: the evaluation view). ``cache_image_features`` runs a *frozen* image encoder once over
    every image and trains on the stored feature maps (``augmented_image_views`` RandAugment views per training
    image are cached too, for DBCL; 0 reuses the evaluation view). ``cache_text_features`` does the same for the
    text backbone during the epochs it is frozen (``train.text_freeze_epochs`` or ``text_encoder.freeze``), and,
    while it is fine-tuned above a bottom frozen for good (``text_encoder.freeze_layers: k``), caches the states
    after layer k so that each step runs only the layers above (the frozen layers then run without dropout).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: component("dataset") = Field(description="which dataset (mvsa_single, hfm, jsonl, ... or a plugin's)")
    root: str | None = Field(None, description="data folder; overrides the dataset's own root")
    formatter: component("formatter") | None = Field(None, description="how text (and aspect) become tokens; null: sentence")
    augmentation: component("augmentation") | None = Field(None, description="training image views; null: the evaluation view")
    image_size: int = Field(224, ge=32, le=MAX_IMAGE_SIZE, description="side of the square image views, in pixels")
    on_bad_image: Literal["error", "skip"] = Field("error", description="an unreadable image: stop with its path, or skip the sample")
    cache_image_features: bool = Field(False, description="run a frozen image encoder once per image and train on the stored maps")
    augmented_image_views: int = Field(1, ge=0, description="augmented views cached per training image (DBCL); 0 reuses the evaluation view")
    cache_text_features: bool = Field(False, description="cache the text backbone's states while it is frozen (or above freeze_layers)")
    feature_cache_dir: str | None = Field(None, description="where the caches live; null: the user cache (CLMLF_CACHE_DIR)")
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes")

    @model_validator(mode="after")
    def _one_image_size(self) -> DataSpec:
        """Training views and evaluation share ``image_size`` (an augmentation's None follows data.image_size)."""
        augmentation = self.augmentation
        if getattr(augmentation, "image_size", None) not in (None, self.image_size):
            message = (f"{augmentation.image_size} differs from data.image_size {self.image_size}: training views and evaluation "
                       "must share one size; leave it unset (it follows data.image_size) or set both")
            raise ValidationError.from_exception_data("DataSpec", [{"type": PydanticCustomError("one_image_size", message),
                                                                    "loc": ("augmentation", "image_size"), "input": augmentation.image_size}])
        return self


class TrainSpec(BaseModel):
    """Optimisation (docs/method.md §4: AdamW 2e-5, weight decay 0.01; text encoder frozen for the first epochs).
    Each field's description says what it does (``clmlf schema``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(10, ge=1, description="training epochs")
    batch_size: int = Field(32, ge=1, description="training batch size; under torchrun the global batch, each of N "
                            "processes trains on a 1/N slice of it")
    eval_batch_size: int = Field(64, ge=1, description="batch size of evaluation (dev, test)")
    lr: float = Field(2e-5, gt=0, description="AdamW learning rate of every part without a rate of its own")
    text_encoder_lr: float | None = Field(None, ge=0, description="learning rate of the text encoder's trainable part "
                                          "(its backbone, else the whole encoder); null: lr")
    image_encoder_lr: float | None = Field(None, ge=0, description="learning rate of the image encoder's trainable part "
                                           "(its backbone, else the whole encoder); null: lr")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay (biases, norm weights and other 1-d "
                                "parameters get none unless decay_norm_and_bias)")
    decay_norm_and_bias: bool = Field(False, description="apply weight_decay to biases, norm weights and other 1-d "
                                      "parameters too")
    betas: tuple[float, float] = Field((0.9, 0.999), description="AdamW (beta1, beta2)")
    eps: float = Field(1e-8, gt=0, description="AdamW epsilon")
    text_freeze_epochs: int = Field(0, ge=0, description="epochs the text backbone stays frozen before it is "
                                    "fine-tuned (two-stage schedule); 0: trained from the start")
    schedule: Literal["constant", "linear", "cosine"] = Field("constant", description="learning-rate schedule after "
                                                              "warmup: constant, linear (to 0) or cosine (to 0)")
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="fraction of the optimizer steps over which the learning "
                                "rate rises linearly from 0")
    grad_accumulation: int = Field(1, ge=1, description="batches whose gradients add up into one optimizer step")
    group_by_length: bool = Field(True, description="batch texts of similar word counts together (less padding); "
                                  "false: a plain shuffle")
    max_grad_norm: float | None = Field(None, gt=0, description="clip the gradient norm to this before each optimizer "
                                        "step; null: no clipping")
    ema_decay: float | None = Field(None, gt=0, lt=1, description="keep an exponential moving average of the weights "
                                    "(updated after every optimizer step, weight 1 - ema_decay on the newest); dev "
                                    "selection, the checkpoint and the test metrics then use it; null: none")
    seed: int = Field(42, description="random seed of the initialisation, the data order, dropout and augmentation")
    deterministic: bool = Field(False, description="torch's deterministic algorithms (a warning where an op has none); "
                                "slower")
    select_metric: Literal["accuracy", "f1", "cross_entropy"] = Field(
        "accuracy", description="the dev score that picks the checkpoint: accuracy, f1 (the dataset's average) or "
        "cross_entropy (lowest wins; smoother than accuracy on a small dev split)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto (CUDA when visible, else the CPU), cpu or cuda")
    bf16: bool = Field(True, description="bf16 autocast for training and evaluation on CUDA")
    bf16_cpu: bool | Literal["auto"] = Field(False, description="bf16 autocast on a CPU: faster only with native bf16 "
                                             "matrix instructions (AVX512-BF16 or AMX), slower elsewhere; auto: on where "
                                             "this CPU has them")
    num_threads: int | None = Field(None, ge=1, description="CPU threads torch uses; null: torch's default")
    compile: bool = Field(False, description="torch.compile the model's heavy parts for training; the first steps of "
                          "each new input shape pay for compilation")
    compile_options: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of torch.compile, e.g. "
                                            "{mode: max-autotune-no-cudagraphs}")
    dist_backend: Literal["auto", "nccl", "gloo"] = Field("auto", description="process-group backend under torchrun: "
                                                          "auto (NCCL on CUDA, gloo on a CPU), nccl or gloo")
    dist_timeout_min: float = Field(60.0, gt=0, description="under torchrun: minutes a rank waits for the others "
                                    "(NCCL's default, 10, can be shorter than a cache build)")
    tensorboard: bool | None = Field(None, description="TensorBoard event files in <run>/tensorboard/ (docs/tracking.md): "
                                     "true (the tensorboard package must be installed), false (none) or null (when the "
                                     "package is installed)")
    log_every: int = Field(25, ge=1, description="optimizer steps between two tracker logs of the training loss terms, "
                           "learning rates and samples/s (also at the end of each epoch)")

    def bf16_on(self, device_type: str) -> bool:
        """Whether training and evaluation on a ``"cuda"`` / ``"cpu"`` device run under bf16 autocast."""
        if device_type == "cuda":
            return self.bf16
        return cpu_has_native_bf16() if self.bf16_cpu == "auto" else self.bf16_cpu


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX tiles), where bf16 autocast speeds training up."""
    import torch

    checks = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(check() for check in checks if check is not None)


DEFAULT_LOSSES = ({"type": "cross_entropy"}, {"type": "lbcl"}, {"type": "dbcl"})
"""L = L_sc + L_lbcl + L_dbcl (paper Sec. 2.6, λ = 1)."""


def with_loss_terms(data: Any) -> Any:
    """``data`` with a ``losses`` mapping of the old form (``lbcl_weight: ...``) replaced by its list of terms."""
    if isinstance(data, Mapping) and isinstance(data.get("losses"), Mapping):
        from clmlf.losses.legacy import terms_from_mapping

        return {**data, "losses": terms_from_mapping(data["losses"])}
    return data


class ExperimentSpec(BaseModel):
    """A whole run: model, data, training and losses (a list of weighted ``loss`` terms, docs/loss_terms.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("clmlf", description="run name, in the metrics and the default output folder runs/<name>")
    model: ModelSpec = Field(description="the architecture")
    data: DataSpec | None = Field(None, description="dataset and inputs; null: a model only, not trainable")
    train: TrainSpec = Field(TrainSpec(), description="optimisation")
    losses: tuple[component("loss"), ...] = Field(default_factory=lambda: list(DEFAULT_LOSSES), validate_default=True,
                                                  description="weighted loss terms summed into the training objective "
                                                  "(docs/loss_terms.md); default: cross_entropy, lbcl and dbcl, weight 1")

    @model_validator(mode="before")
    @classmethod
    def _migrate_losses(cls, data: Any) -> Any:
        return with_loss_terms(data)

    @model_validator(mode="after")
    def _check_losses(self) -> ExperimentSpec:
        """Every term is a weighted term (:class:`clmlf.losses.LossTermSpec`), one has a weight > 0, and in a trainable
        spec (one with data) a term that reads z or z_aug has model.projection."""
        from clmlf.losses.terms import TERM_INPUTS, LossTermSpec

        problems = []
        for index, term in enumerate(self.losses):
            if not isinstance(term, LossTermSpec):
                problems.append((f"the spec of loss {term.type!r} ({type(term).__name__}) must subclass clmlf.losses."
                                 "LossTermSpec (it gives the term its weight; docs/loss_terms.md)", (index,), term.type))
            elif term.uses - TERM_INPUTS:
                problems.append((f"{type(term).__name__}.uses lists {sorted(term.uses - TERM_INPUTS)}; a term may use "
                                 f"{' and '.join(sorted(TERM_INPUTS))} only", (index,), term.type))
            elif self.data is not None and term.weight > 0 and term.uses and self.model.projection is None:
                problems.append((f"{term.type} reads {' and '.join(sorted(term.uses))}, which needs model.projection; add "
                                 "one (e.g. projection: {type: mlp}) or set its weight to 0", (index, "weight"), term.weight))
        if not problems and not any(term.weight > 0 for term in self.losses):
            problems.append(("no term with a weight > 0; list at least one, e.g. [{type: cross_entropy}]", (), None))
        if problems:
            raise ValidationError.from_exception_data("ExperimentSpec", [
                {"type": PydanticCustomError("loss_terms", message), "loc": ("losses", *where), "input": value}
                for message, where, value in problems])
        return self


def load_spec(source: str | Path | Mapping[str, Any], overrides: list[str] | None = None) -> ExperimentSpec:
    """An :class:`ExperimentSpec` from a YAML path, a preset name (``"tiny"``, ``clmlf presets``) or a mapping; raises
    :class:`SpecError` listing every problem."""
    if isinstance(source, Mapping):
        data, name = dict(source), "spec"
    else:
        data, name = read_yaml(source), str(source)
    if overrides:  # the old losses mapping first becomes the list that --set losses.<type>.<field> reaches
        try:
            data = with_loss_terms(data)
        except ValidationError as error:
            raise SpecError(name, format_errors(error)) from None
        data = apply_overrides(data, overrides)
    return validate_spec(ExperimentSpec, data, name)


def load_model_spec(source: ExperimentSpec | ModelSpec | str | Path | Mapping[str, Any]) -> ModelSpec:
    """A :class:`ModelSpec` from any accepted form (a mapping may be an experiment or a bare model)."""
    if not isinstance(source, (ModelSpec, ExperimentSpec, str, Path, Mapping)):
        raise TypeError(f"expected a ModelSpec, an ExperimentSpec, a YAML path, a preset name or a mapping; got {type(source).__name__}")
    if isinstance(source, ModelSpec):
        return source
    if isinstance(source, ExperimentSpec):
        return source.model
    if isinstance(source, Mapping) and "model" not in source:
        return validate_spec(ModelSpec, dict(source), "model spec", prefix=("model",))
    return load_spec(source).model
