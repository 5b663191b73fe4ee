"""Presets: the experiment YAMLs shipped inside the package (``clmlf/configs/``, ``configs/`` in a checkout), by name.

One rule for every config argument (:func:`clmlf.load_spec`, :func:`clmlf.build_model`, each CLI command): an existing
file first, else a preset name (``tiny`` or ``tiny.yaml``), else a :class:`~clmlf.errors.SpecError` naming the presets.
A preset's description is its first line, a comment (``clmlf presets`` lists them).
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from clmlf.errors import SpecError
from clmlf.registry import did_you_mean

PRESET_FOLDER = "configs"
"""The package-data folder of the presets, inside the ``clmlf`` package."""


def preset_files() -> dict[str, Traversable]:
    """Preset name (the file name without ``.yaml``) -> its file, sorted by name."""
    entries = (files("clmlf") / PRESET_FOLDER).iterdir()
    return {entry.name.removesuffix(".yaml"): entry for entry in sorted(entries, key=lambda entry: entry.name)
            if entry.name.endswith(".yaml")}


def preset_description(file: Traversable) -> str:
    """The first line of a preset without its ``#`` (``""`` when that line is not a comment)."""
    first = file.read_text().partition("\n")[0]
    return first.removeprefix("#").strip() if first.startswith("#") else ""


def resolve_config(source: str | Path) -> Path | Traversable:
    """The YAML file ``source`` names: an existing path, else the preset of that name (with or without ``.yaml``)."""
    path = Path(source)
    if path.is_file():
        return path
    presets = preset_files()
    name = str(source).removesuffix(".yaml")
    if name in presets:
        return presets[name]
    hint = did_you_mean(path.name.removesuffix(".yaml"), list(presets))  # configs/tiny.yaml outside a checkout: 'tiny'
    raise SpecError(str(source), [f"no such file, and no preset of that name.{hint} Pass a YAML config's path or a preset "
                                  f"name: {', '.join(presets)} (`clmlf presets` describes each)"])
