"""Where the datasets live: explicit ``root`` > ``$CLMLF_DATA_DIR`` > a ``shared/data`` folder found by walking up.

The walk starts from this package's directory and from the current working directory and checks
``<ancestor>/shared/data`` for every ancestor, so a checkout at ``<work>/main`` finds ``<work>/shared/data`` (a data
folder beside the checkout) whether it is run from the checkout or installed into its virtualenv.
An explicit root or the environment variable that points nowhere is an error, never a silent fallback.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from clmlf.data.errors import DataError

ENV_VAR = "CLMLF_DATA_DIR"
HOW_TO_SET = (
    "Set the data root (the folder that holds the dataset folders) with `data.root: DIR` in the config, "
    f"`--set data.root=DIR` on the command line, or the {ENV_VAR} environment variable."
)


def _search_starts() -> list[Path]:
    return [Path(__file__).resolve().parent, Path.cwd().resolve()]


def _candidates() -> list[Path]:
    """``<ancestor>/shared/data`` for every ancestor of the search starts, nearest first, no repeats."""
    seen: dict[Path, None] = {}
    for start in _search_starts():
        for ancestor in (start, *start.parents):
            seen.setdefault(ancestor / "shared" / "data", None)
    return list(seen)


def locate_data_root(root: str | Path | None = None) -> tuple[Path, str]:
    """``(data root, how it was found)``; raises :class:`DataError` saying where it looked and how to set it."""
    for value, source in ((root, "data.root (or --root)"), (os.environ.get(ENV_VAR) or None, ENV_VAR)):
        if value is None:
            continue
        path = Path(value).expanduser()
        if not path.is_dir():
            raise DataError(f"The data root {str(path)!r} given by {source} is not a directory. {HOW_TO_SET}")
        return path, source
    candidates = _candidates()
    for path in candidates:
        if path.is_dir():
            return path, "found by searching for shared/data"
    starts = " and ".join(str(start) for start in _search_starts())
    looked = "\n".join(f"  {path}" for path in candidates)
    raise DataError(
        f"No data root: data.root is unset, {ENV_VAR} is unset, and no shared/data folder exists beside any parent "
        f"of {starts}. {HOW_TO_SET}\nLooked for:\n{looked}"
    )


def resolve_data_root(root: str | Path | None = None) -> Path:
    """The data root folder (see the module docstring for the search order)."""
    return locate_data_root(root)[0]


def find_dataset_dir(folder: str, required: Sequence[str], root: str | Path | None = None) -> Path:
    """``<data root>/<folder>``, checked to hold every path in ``required`` (relative to it).

    Raises one :class:`DataError` naming the data root and how it was found, the missing paths, the expected
    layout and how to point elsewhere (including the common slip of giving the dataset folder as the root).
    """
    base, source = locate_data_root(root)
    directory = base / folder
    missing = [name for name in required if not (directory / name).exists()]
    if directory.is_dir() and not missing:
        return directory
    what = f"{directory} does not exist" if not directory.is_dir() else f"{directory} lacks {', '.join(missing)}"
    slip = ""
    if base.name == folder or all((base / name).exists() for name in required):
        slip = f" {base} looks like the {folder} folder itself; set the data root to its parent {base.parent}."
    layout = "\n".join(f"  {folder}/{name}" for name in required)
    raise DataError(
        f"Dataset {folder!r} not found: {what} (data root {base}, {source}).{slip} {HOW_TO_SET}\n"
        f"Expected layout under the data root:\n{layout}"
    )


IMAGE_FOLDER = "dataset_image"


def find_image_dir(dataset_dir: Path, file_name: str) -> Path:
    """``<dataset_dir>/dataset_image``; a :class:`DataError` (asked for images the data bundle lacks) if absent."""
    directory = dataset_dir / IMAGE_FOLDER
    if directory.is_dir():
        return directory
    raise DataError(
        f"Images were requested for {dataset_dir.name} but {directory} does not exist (this dataset has no images "
        f"here). Put one image per sample there, named {file_name}, or set `images: false` in the dataset config "
        "to use the text only."
    )
