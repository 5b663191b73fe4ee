"""Reader for the CLMLF JSON layout (MVSA-Single, MVSA-Multiple, HFM) and its back-translation files.

A split file is a JSON list of ``{"id": str, "text": str, "emotion_label": int}``; a translation file a JSON
list of ``{"id": str, "text_translation": str}``. Every malformed row is reported at once, by file, row
number (0-based list index), id and field. Files are UTF-8 (a byte-order mark is accepted); ids must not carry
surrounding whitespace (they name the image ``<id>.jpg`` and pair texts with back-translations).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clmlf.data.errors import DataError, problems_error
from clmlf.data.files import read_text
from clmlf.data.samples import Sample

TRANSLATION_FIELDS = ("id", "text_translation")
FIX_HINT = "Fix these rows (or regenerate the file from the CLMLF reference repository's dataset/data/)."


def read_json_list(path: Path) -> list[Any]:
    """The JSON list stored at ``path`` (UTF-8, BOM allowed); unreadable, non-UTF-8 or invalid JSON files or another
    top-level type raise :class:`DataError`."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}. {FIX_HINT}") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of objects at the top level, got {type(data).__name__}. {FIX_HINT}")
    return data


def _row_id(row: Any, where: str, problems: list[str]) -> str | None:
    """The row's ``id`` as a string (JSON strings or integers), or ``None`` after recording why not."""
    if not isinstance(row, dict):
        problems.append(f"{where}: expected an object, got {type(row).__name__}")
        return None
    value = row.get("id")
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        problems.append(f"{where}: field 'id': expected a non-empty string, got {value!r}")
        return None
    if str(value) != str(value).strip():
        problems.append(f"{where}: field 'id': {value!r} has leading/trailing whitespace, so it would match no image "
                        f"or back-translation (write it as {str(value).strip()!r})")
        return None
    return str(value)


def _check_unique(row_id: str, where: str, first_seen: dict[str, str], problems: list[str]) -> None:
    if row_id in first_seen:
        problems.append(f"{where}: duplicate id (first at {first_seen[row_id]})")
    else:
        first_seen[row_id] = where


def _check_translation_fields(row: dict[str, Any], where: str, problems: list[str]) -> bool:
    """Whether ``row`` has exactly the fields ``id`` and ``text_translation``; records what is wrong if not."""
    unknown = [key for key in row if key not in TRANSLATION_FIELDS]
    wrong = ([] if "text_translation" in row else ["no field 'text_translation'"]) + [f"unknown field {key!r}" for key in unknown]
    if wrong:
        problems.append(f"{where}: {', '.join(wrong)} (expected the fields 'id' and 'text_translation'; "
                        "use \"\" or null for a missing translation)")
    return not wrong


def read_translations(path: Path) -> dict[str, str]:
    """``{id: back-translation}`` from a translation file; empty or ``null`` translations are left out.

    Every row needs the field ``text_translation`` (``""`` or ``null`` where there is none) and no other but ``id``.
    """
    problems: list[str] = []
    first_seen: dict[str, str] = {}
    translations: dict[str, str] = {}
    for index, row in enumerate(read_json_list(path)):
        row_id = _row_id(row, f"row {index}", problems)
        if row_id is None:
            continue
        where = f"row {index} (id {row_id!r})"
        _check_unique(row_id, where, first_seen, problems)
        if not _check_translation_fields(row, where, problems):
            continue
        text = row["text_translation"]
        if text is not None and not isinstance(text, str):
            problems.append(f"{where}: field 'text_translation': expected a string, got {text!r}")
        elif text and text.strip():
            translations[row_id] = text
    if problems:
        raise problems_error(path, problems, FIX_HINT)
    return translations


def read_clmlf_split(
    path: Path,
    label_names: tuple[str, ...],
    image_dir: Path | None = None,
) -> list[Sample]:
    """The samples of one split file, in file order.

    ``image_path`` is ``image_dir/<id>.jpg`` when ``image_dir`` is given (``text_aug`` is attached later, by
    :func:`clmlf.data.translations.attach_translations`). Labels must lie in ``0..len(label_names)-1``.
    """
    problems: list[str] = []
    first_seen: dict[str, str] = {}
    samples: list[Sample] = []
    for index, row in enumerate(read_json_list(path)):
        row_id = _row_id(row, f"row {index}", problems)
        if row_id is None:
            continue
        where = f"row {index} (id {row_id!r})"
        before = len(problems)
        _check_unique(row_id, where, first_seen, problems)
        text, label = row.get("text"), row.get("emotion_label")
        if not isinstance(text, str):
            problems.append(f"{where}: field 'text': expected a string, got {text!r}")
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(label_names):
            problems.append(
                f"{where}: field 'emotion_label': expected an integer 0..{len(label_names) - 1} "
                f"({', '.join(f'{i} {name}' for i, name in enumerate(label_names))}), got {label!r}"
            )
        if len(problems) > before:
            continue
        samples.append(
            Sample(
                id=row_id,
                text=text,
                label=label,
                image_path=image_dir / f"{row_id}.jpg" if image_dir is not None else None,
            )
        )
    if problems:
        raise problems_error(path, problems, FIX_HINT)
    return samples
