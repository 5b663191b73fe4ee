"""Plugin discovery with pluggy: third-party packages expose the ``clmlf`` entry-point group.

A plugin module implements one hook::

    from clmlf import hookimpl

    @hookimpl
    def clmlf_register(registry):
        registry.add("text_encoder", "my_encoder", MyEncoder, MyEncoderSpec)

and its ``pyproject.toml`` declares ``[project.entry-points.clmlf] my_plugin = "my_pkg.clmlf_plugin"``.
Discovery runs once, lazily, on the first registry lookup; ``CLMLF_DISABLE_PLUGIN_AUTOLOAD=1`` turns it off.
"""

from __future__ import annotations

import importlib.metadata
import os

import pluggy

from clmlf.errors import PluginError

PROJECT = "clmlf"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
DISABLE_ENV = "CLMLF_DISABLE_PLUGIN_AUTOLOAD"


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


def _register_all(manager: pluggy.PluginManager) -> None:
    from clmlf.registry import REGISTRY

    dists = {id(plugin): dist for plugin, dist in manager.list_plugin_distinfo()}
    for impl in manager.hook.clmlf_register.get_hookimpls():
        try:
            impl.function(registry=REGISTRY)
        except Exception as error:
            dist = dists.get(id(impl.plugin))
            where = f"distribution {dist.project_name} {dist.version}" if dist else f"plugin {impl.plugin_name!r}"
            raise PluginError(f"clmlf plugin from {where} failed in clmlf_register: {type(error).__name__}: {error}") from error


def load_plugins(force: bool = False) -> None:
    """Load entry-point plugins once and let every registered plugin register its components."""
    global _loaded
    if _loaded and not force:
        return
    _loaded = True
    manager = plugin_manager()
    if os.environ.get(DISABLE_ENV, "").strip() not in ("", "0", "false", "False"):
        return
    try:
        manager.load_setuptools_entrypoints(PROJECT)
    except Exception as error:
        raise PluginError(f"Failed to load a clmlf plugin: {_distribution_of_failing_entry_point()}. "
                          f"Uninstall or fix it, or set {DISABLE_ENV}=1 to skip plugins.") from error
    _register_all(manager)


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register an in-process plugin object (a module or class with ``clmlf_register``) and run its hook now."""
    from clmlf.registry import REGISTRY

    manager = plugin_manager()
    manager.register(plugin, name=name)
    for impl in manager.hook.clmlf_register.get_hookimpls():
        if impl.plugin is plugin:
            impl.function(registry=REGISTRY)
