"""Component registry: ``kind -> name -> (component, spec class)``, plus plugin discovery.

A component is any callable (usually an ``nn.Module`` class) whose keyword arguments mirror the fields
of its pydantic spec. Built-ins register with the :func:`register` decorator when :mod:`clmlf.components`
is imported; third-party packages register through the ``clmlf`` entry-point group (see :mod:`clmlf.plugins`).

>>> @register("pooler", "max", spec=MaxPoolerSpec)
... class MaxPooler(nn.Module): ...
>>> get_component("pooler", "max")        # -> MaxPooler
>>> list_components("pooler")             # -> {"pooler": ["attention", "cls", "max", "mean"]}
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from clmlf.spec import ComponentSpec

KINDS: tuple[str, ...] = (
    "text_encoder",
    "image_encoder",
    "image_transformer",
    "fusion",
    "pooler",
    "head",
    "projection",
    "loss",
    "formatter",
    "dataset",
    "augmentation",
)


class RegistryError(KeyError):
    """Unknown kind/name or a clashing registration. ``str()`` is the plain message (no KeyError quoting)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def did_you_mean(name: str, known: list[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest known name, or ``""``."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True)
class Entry:
    """One registered component."""

    kind: str
    name: str
    component: Callable[..., Any]
    spec: type[ComponentSpec]

    @property
    def module(self) -> str:
        return getattr(self.component, "__module__", "?")


class Registry:
    """A dict of dicts with loud errors. ``version`` increments on every change (spec caches key on it)."""

    def __init__(self, kinds: tuple[str, ...] = KINDS) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in kinds}
        self.version = 0

    def _check_kind(self, kind: str) -> dict[str, Entry]:
        if kind not in self._entries:
            known = sorted(self._entries)
            raise RegistryError(f"Unknown component kind {kind!r}; known kinds: {', '.join(known)}.{did_you_mean(kind, known)}")
        return self._entries[kind]

    def add(self, kind: str, name: str, component: Callable[..., Any], spec: type[ComponentSpec], override: bool = False) -> None:
        """Register ``component`` under ``kind/name`` with its ``spec`` class."""
        from clmlf.spec import ComponentSpec

        entries = self._check_kind(kind)
        if not (isinstance(spec, type) and issubclass(spec, ComponentSpec)):
            raise RegistryError(f"spec for {kind}/{name} must be a subclass of clmlf.ComponentSpec; got {spec!r}")
        spec_type = spec.model_fields.get("type")
        if spec_type is None or spec_type.default != name:
            raise RegistryError(
                f"Spec {spec.__qualname__} for {kind}/{name} must declare `type: Literal[{name!r}] = {name!r}`."
            )
        old = entries.get(name)
        if old is not None and not override and old.component is not component:
            raise RegistryError(
                f"{kind} {name!r} is already registered by {old.module}.{getattr(old.component, '__qualname__', old.component)}; "
                f"{getattr(component, '__module__', '?')} tries to register it again. Pick another name or pass override=True."
            )
        spec.component_kind = kind
        entries[name] = Entry(kind, name, component, spec)
        self.version += 1

    def register(self, kind: str, name: str, *, spec: type[ComponentSpec], override: bool = False) -> Callable:
        """Decorator form of :meth:`add`; returns the component unchanged."""

        def decorator(component: Callable[..., Any]) -> Callable[..., Any]:
            self.add(kind, name, component, spec, override=override)
            return component

        return decorator

    def entry(self, kind: str, name: str) -> Entry:
        entries = self._check_kind(kind)
        if name not in entries:
            known = sorted(entries)
            raise RegistryError(
                f"Unknown {kind} {name!r}; known {kind} names: {', '.join(known) or '(none)'}.{did_you_mean(name, known)}"
            )
        return entries[name]

    def names(self, kind: str) -> list[str]:
        return sorted(self._check_kind(kind))

    def entries(self, kind: str) -> list[Entry]:
        return [entry for _, entry in sorted(self._check_kind(kind).items())]

    def kinds(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def list(self, kind: str | None = None, pattern: str = "*") -> dict[str, list[str]]:
        kinds = [kind] if kind is not None else list(self._entries)
        return {k: [n for n in self.names(k) if fnmatch.fnmatchcase(n, pattern)] for k in kinds}


REGISTRY = Registry()


def _ready() -> Registry:
    """The global registry with built-ins and plugins loaded (both lazily, once)."""
    from clmlf import components  # noqa: F401  (import registers the built-ins)
    from clmlf.plugins import load_plugins

    load_plugins()
    return REGISTRY


def register(kind: str, name: str, *, spec: type[ComponentSpec], override: bool = False) -> Callable:
    """Decorator registering a component class/factory under ``kind/name`` with its pydantic ``spec``."""
    return REGISTRY.register(kind, name, spec=spec, override=override)


def get_component(kind: str, name: str) -> Callable[..., Any]:
    """The registered class/factory; unknown names raise :class:`RegistryError` with the known names."""
    return _ready().entry(kind, name).component


def get_spec_class(kind: str, name: str) -> type[ComponentSpec]:
    return _ready().entry(kind, name).spec


def list_components(kind: str | None = None, pattern: str = "*") -> dict[str, list[str]]:
    """``{kind: [names]}`` filtered by an fnmatch ``pattern`` (``"resnet*"``)."""
    return _ready().list(kind, pattern)


def registry() -> Registry:
    """The live global registry (built-ins and plugins loaded)."""
    return _ready()
