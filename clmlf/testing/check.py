"""``check_component``: build a registered component from its spec and hold it to the contract of its kind."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from torch import nn

from clmlf.registry import registry
from clmlf.spec import SHARED_SIZES, ComponentSpec, format_errors
from clmlf.testing.kinds import CHECKS, Sizes
from clmlf.testing.tiny import SLOTS, check_round_trip, check_training
from clmlf.testing.where import Where


def check_component(kind: str, spec: ComponentSpec | Mapping[str, Any], *, d_model: int = 32, num_classes: int = 3,
                    train_steps: int = 0, workdir: str | Path | None = None) -> Any:
    """Build ``spec`` (a spec, or a mapping with ``type``) of ``kind`` through the registry and check its contract:
    outputs of the right types and shapes on tiny inputs, padding ignored where the kind promises it, finite values,
    gradients into every trainable parameter, a ``save_pretrained`` / ``from_pretrained`` round trip inside the tiny
    CLMLF (kinds with a model slot) and, with ``train_steps=N``, N steps of ``clmlf.train.trainer.train`` on synthetic
    posts. ``d_model`` / ``num_classes`` fill the spec's shared sizes left unset, as a ``ModelSpec`` does. Files go
    to ``workdir`` (default: a temporary folder). Returns the built component; raises ``AssertionError`` saying
    what to fix."""
    spec = resolve_spec(kind, spec, d_model, num_classes)
    where = Where(kind, spec.type)
    component = spec.build()
    if isinstance(component, nn.Module):
        component.eval()
        component.zero_grad(set_to_none=True)
    outputs = CHECKS[kind](component, spec, where, Sizes(d_model, num_classes))
    for output in outputs:
        where.expect(bool(torch.isfinite(output).all()), "an output holds NaN or inf on tiny random inputs")
    if isinstance(component, nn.Module) and outputs and kind != "loss":
        check_gradients(component, outputs, where)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(workdir) if workdir is not None else Path(scratch)
        if kind in SLOTS:
            check_round_trip(kind, spec, where, folder / "round_trip", d_model, num_classes)
        if train_steps:
            check_training(kind, spec, component, where, folder / "training", train_steps, d_model, num_classes)
    return component


def resolve_spec(kind: str, spec: ComponentSpec | Mapping[str, Any], d_model: int, num_classes: int) -> ComponentSpec:
    """The validated spec with unset shared sizes filled; it must survive a JSON round trip (run configs do)."""
    if isinstance(spec, ComponentSpec):
        spec_class, data = type(spec), spec.model_dump(mode="json")
        if spec_class.registered_kind() != kind:
            raise AssertionError(f"{spec_class.__name__} is a {spec_class.registered_kind()} spec, not a {kind} spec")
    elif isinstance(spec, Mapping) and "type" in spec:
        spec_class, data = registry().entry(kind, spec["type"]).spec, dict(spec)
    else:
        raise AssertionError(f"pass a {kind} spec or a mapping with its registered `type`; got {spec!r}")
    fields = spec_class.model_fields
    sizes = {"d_model": d_model, "num_classes": num_classes}
    data.update({name: sizes[name] for name in SHARED_SIZES if name in fields and data.get(name) is None})
    try:
        resolved = spec_class.model_validate(data)
        again = spec_class.model_validate(resolved.model_dump(mode="json"))
    except ValidationError as error:
        raise AssertionError(f"{kind} {data['type']!r}: the spec does not validate: {'; '.join(format_errors(error))}") from None
    Where(kind, resolved.type).expect(again == resolved, "the spec changes through model_dump(mode='json') and back; "
                                                         "give every field a JSON-serialisable type")
    return resolved


def check_gradients(module: nn.Module, outputs: list[torch.Tensor], where: Where) -> None:
    """Back-propagating the sum of the outputs reaches every parameter with ``requires_grad``."""
    trainable = [(name, parameter) for name, parameter in module.named_parameters() if parameter.requires_grad]
    differentiable = [output for output in outputs if output.requires_grad]
    if not trainable:
        return
    where.expect(bool(differentiable), "its outputs carry no gradient although it has trainable parameters")
    sum(output.float().sum() for output in differentiable).backward()
    missing = [name for name, parameter in trainable if parameter.grad is None]
    more = f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""
    where.expect(not missing, f"no gradient reaches {', '.join(missing[:5])}{more}: the outputs must depend on every "
                              "trainable parameter; freeze the unused ones (requires_grad=False) or remove them")

