"""Component registry: ``kind -> name -> (component, spec class)``, filled through the plugin hook.

A component is any callable (usually an ``nn.Module`` class) whose keyword arguments mirror the fields of its
pydantic spec. Every provider, the built-ins included (:mod:`clmlf.builtins`), registers through the same
``clmlf_register(registry)`` hook (:mod:`clmlf.plugins`). The component and the spec may be given as objects or as
``"module:attr"`` import strings, imported on first use, so listing the registry imports no component module:

>>> registry.add("pooler", "max", "my_pkg.pooling:MaxPooler", "my_pkg.pooling:MaxPoolerSpec")
>>> get_component("pooler", "max")        # imports my_pkg.pooling -> MaxPooler
>>> list_components("pooler")             # -> {"pooler": ["attention", "cls", "max", "mean"]}
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
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


def reference(target: Any) -> str:
    """``"module:qualname"`` of an object, or an import string unchanged."""
    if isinstance(target, str):
        return target
    return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', type(target).__qualname__)}"


def check_reference(kind: str, name: str, role: str, target: Any) -> None:
    """An import string must look like ``"package.module:attribute"``."""
    if isinstance(target, str):
        module, colon, attribute = target.partition(":")
        if not (colon and module.strip() and attribute.strip()):
            raise RegistryError(f"{role} for {kind}/{name} must be an object or a 'package.module:attribute' string; "
                                f"got {target!r}")


def import_reference(text: str, what: str) -> Any:
    """The object an import string names; failures raise :class:`RegistryError` naming ``what`` and the string."""
    module_name, _, attribute = text.partition(":")
    try:
        target = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise RegistryError(f"{what}: cannot import {text!r} ({type(error).__name__}: {error}); install what it needs "
                            "or fix the string given to registry.add") from error
    return target


def check_spec(kind: str, name: str, spec: Any) -> None:
    """A spec must be a :class:`~clmlf.spec.ComponentSpec` subclass whose ``type`` defaults to the registered name."""
    from clmlf.spec import ComponentSpec

    if not (isinstance(spec, type) and issubclass(spec, ComponentSpec)):
        raise RegistryError(f"spec for {kind}/{name} must be a subclass of clmlf.ComponentSpec; got {spec!r}")
    spec_type = spec.model_fields.get("type")
    if spec_type is None or spec_type.default != name:
        raise RegistryError(f"Spec {spec.__qualname__} for {kind}/{name} must declare `type: Literal[{name!r}] = {name!r}`.")


class Entry:
    """One registered component. ``component`` and ``spec`` given as ``"module:attr"`` strings are imported on
    first access (and the spec checked then); :attr:`module` names the providing module without importing it."""

    def __init__(self, kind: str, name: str, component: Callable[..., Any] | str, spec: type[ComponentSpec] | str) -> None:
        self.kind, self.name = kind, name
        self._component, self._spec = component, spec

    @property
    def component(self) -> Callable[..., Any]:
        if isinstance(self._component, str):
            self._component = import_reference(self._component, f"{self.kind} {self.name!r}")
        return self._component

    @property
    def spec(self) -> type[ComponentSpec]:
        if isinstance(self._spec, str):
            spec = import_reference(self._spec, f"{self.kind} {self.name!r} spec")
            check_spec(self.kind, self.name, spec)
            self._spec = spec
        self._spec.component_kind = self.kind
        return self._spec

    @property
    def module(self) -> str:
        """The module providing the component (from its import string when not imported yet)."""
        return reference(self._component).partition(":")[0]

    def provides(self, spec: type[ComponentSpec]) -> bool:
        """Whether ``spec`` is this entry's spec class (compared by import string first, importing only on a miss)."""
        return reference(self._spec) == reference(spec) or self.spec is spec

    def __repr__(self) -> str:
        return f"Entry({self.kind!r}, {self.name!r}, {reference(self._component)!r}, {reference(self._spec)!r})"


class Registry:
    """A dict of dicts with loud errors."""

    def __init__(self, kinds: tuple[str, ...] = KINDS) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in kinds}

    def _check_kind(self, kind: str) -> dict[str, Entry]:
        if kind not in self._entries:
            known = sorted(self._entries)
            raise RegistryError(f"Unknown component kind {kind!r}; known kinds: {', '.join(known)}.{did_you_mean(kind, known)}")
        return self._entries[kind]

    def add(self, kind: str, name: str, component: Callable[..., Any] | str, spec: type[ComponentSpec] | str,
            override: bool = False) -> None:
        """Register ``component`` under ``kind/name`` with its ``spec`` class; either may be a ``"module:attr"`` string."""
        entries = self._check_kind(kind)
        check_reference(kind, name, "component", component)
        check_reference(kind, name, "spec", spec)
        if not isinstance(spec, str):
            check_spec(kind, name, spec)
        old = entries.get(name)
        if old is not None and not override and reference(old._component) != reference(component):
            raise RegistryError(
                f"{kind} {name!r} is already registered by {reference(old._component)}; {reference(component)} tries to "
                "register it again. Pick another name or pass override=True."
            )
        entries[name] = Entry(kind, name, component, spec)
        if not isinstance(spec, str):
            spec.component_kind = kind

    def register(self, kind: str, name: str, *, spec: type[ComponentSpec] | str, override: bool = False) -> Callable:
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

    def kind_of(self, spec: type[ComponentSpec]) -> str:
        """The kind ``spec`` is registered under (for a spec class constructed directly, before any lookup)."""
        name = getattr(spec.model_fields.get("type"), "default", None)
        for kind, entries in self._entries.items():
            if name in entries and entries[name].provides(spec):
                return kind
        raise RegistryError(f"{spec.__qualname__} (type {name!r}) is not a registered spec; register it with "
                            "registry.add(kind, name, component, spec) in a clmlf_register hook or with clmlf.register")

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
    """The global registry with the built-ins and the installed plugins registered (once, lazily)."""
    from clmlf.plugins import load_plugins

    load_plugins()
    return REGISTRY


def register(kind: str, name: str, *, spec: type[ComponentSpec] | str, override: bool = False) -> Callable:
    """Decorator registering a component class/factory of your own code under ``kind/name`` with its pydantic ``spec``."""
    return _ready().register(kind, name, spec=spec, override=override)


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
