"""Plugin discovery with pluggy: every provider of components, the built-ins included, implements one hook::

    from clmlf import hookimpl

    @hookimpl
    def clmlf_register(registry):
        registry.add("text_encoder", "my_encoder", "my_pkg.encoder:MyEncoder", "my_pkg.encoder:MyEncoderSpec")

A third-party package declares ``[project.entry-points.clmlf] my_plugin = "my_pkg.clmlf_plugin"``. As pytest does
with its own plugins, :mod:`clmlf.builtins` is registered into the plugin manager first, then the entry points are
loaded, and every hook implementation runs through :func:`_register_all`. Discovery runs once, lazily, on the first
registry lookup; ``CLMLF_DISABLE_PLUGIN_AUTOLOAD=1`` skips the entry points (the built-ins always load).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

from clmlf.errors import PluginError

if TYPE_CHECKING:
    from clmlf.registry import Registry

PROJECT = "clmlf"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
DISABLE_ENV = "CLMLF_DISABLE_PLUGIN_AUTOLOAD"
BUILTINS = "clmlf.builtins"


class HookSpecs:
    @hookspec
    def clmlf_register(self, registry) -> None:
        """Register components into ``registry`` (a :class:`clmlf.registry.Registry`)."""


_manager: pluggy.PluginManager | None = None
_loaded = False


def plugin_manager() -> pluggy.PluginManager:
    global _manager
    if _manager is None:
        _manager = pluggy.PluginManager(PROJECT)
        _manager.add_hookspecs(HookSpecs)
    return _manager


def _distribution_of_failing_entry_point() -> str:
    """Re-load each ``clmlf`` entry point alone to name the one that raises."""
    for entry_point in importlib.metadata.entry_points(group=PROJECT):
        try:
            entry_point.load()
        except Exception as error:  # noqa: BLE001 - we only want its name
            dist = entry_point.dist
            where = f"{dist.name} {dist.version}" if dist else "an unknown distribution"
            return f"entry point {entry_point.name!r} = {entry_point.value!r} of {where}: {type(error).__name__}: {error}"
    return "an entry point of the 'clmlf' group"


def _register_all(manager: pluggy.PluginManager, registry: Registry, plugins: Iterable[object] | None = None) -> None:
    """Run the ``clmlf_register`` implementations of ``plugins`` (default: every plugin of ``manager``, in
    registration order: built-ins first) on ``registry``; a failure names the plugin's distribution."""
    chosen = None if plugins is None else {id(plugin) for plugin in plugins}
    dists = {id(plugin): dist for plugin, dist in manager.list_plugin_distinfo()}
    for impl in manager.hook.clmlf_register.get_hookimpls():
        if chosen is not None and id(impl.plugin) not in chosen:
            continue
        try:
            impl.function(registry=registry)
        except Exception as error:
            dist = dists.get(id(impl.plugin))
            where = f"distribution {dist.project_name} {dist.version}" if dist else f"plugin {impl.plugin_name!r}"
            raise PluginError(f"clmlf plugin from {where} failed in clmlf_register: {type(error).__name__}: {error}") from error


def load_plugins(force: bool = False) -> None:
    """Register the built-ins, load the entry-point plugins, and let each register its components (once)."""
    from clmlf.registry import REGISTRY

    global _loaded
    if _loaded and not force:
        return
    _loaded = True
    manager = plugin_manager()
    if not manager.has_plugin(BUILTINS):
        manager.register(importlib.import_module(BUILTINS), name=BUILTINS)
    if os.environ.get(DISABLE_ENV, "").strip() not in ("", "0", "false", "False"):
        _register_all(manager, REGISTRY)
        return
    try:
        manager.load_setuptools_entrypoints(PROJECT)
    except Exception as error:
        raise PluginError(f"Failed to load a clmlf plugin: {_distribution_of_failing_entry_point()}. "
                          f"Uninstall or fix it, or set {DISABLE_ENV}=1 to skip plugins.") from error
    _register_all(manager, REGISTRY)


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register an in-process plugin (a module or object with a ``@hookimpl clmlf_register``) and run its hook now,
    through the same path as an installed one: a plugin's own tests or a notebook can use its components without
    installing the package (``register_plugin(my_pkg.clmlf_plugin)``)."""
    from clmlf.registry import registry

    live = registry()
    plugin_manager().register(plugin, name=name)
    _register_all(plugin_manager(), live, [plugin])
