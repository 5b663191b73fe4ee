"""The ``losses`` mapping of configs written before the list of terms (``lbcl_weight: 1.0, ...``), read as terms.

The mapping trains exactly as before: cross-entropy, LBCL and DBCL in that order, each keeping the mapping's values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

logger = logging.getLogger("clmlf")

MAPPING_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "label_smoothing": (("cross_entropy", "label_smoothing"),),
    "lbcl_weight": (("lbcl", "weight"),),
    "lbcl_variant": (("lbcl", "variant"),),
    "dbcl_weight": (("dbcl", "weight"),),
    "dbcl_variant": (("dbcl", "variant"),),
    "temperature": (("lbcl", "temperature"), ("dbcl", "temperature")),
    "impl": (("lbcl", "impl"), ("dbcl", "impl")),
    "cross_rank": (("lbcl", "cross_rank"), ("dbcl", "cross_rank")),
}
"""Old key -> the (term type, field) pairs it sets (``cross_rank`` was the contrastive terms' only)."""
_NOTICED: set[str] = set()


def terms_from_mapping(mapping: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``{lbcl_weight: 0.5, temperature: 0.1}`` -> ``[{type: cross_entropy}, {type: lbcl, weight: 0.5, temperature: 0.1},
    {type: dbcl, temperature: 0.1}]``, with one logged warning that shows the list form; unknown keys are refused."""
    unknown = [key for key in mapping if key not in MAPPING_FIELDS]
    if unknown:
        raise ValidationError.from_exception_data("ExperimentSpec", [
            {"type": PydanticCustomError("old_losses_key", "not a key of the old losses mapping ({known}); write losses "
                                         "as a list of terms (docs/loss_terms.md)", {"known": ", ".join(MAPPING_FIELDS)}),
             "loc": ("losses", key), "input": mapping[key]} for key in unknown])
    terms: dict[str, dict[str, Any]] = {name: {"type": name} for name in ("cross_entropy", "lbcl", "dbcl")}
    for key, value in mapping.items():
        for name, field in MAPPING_FIELDS[key]:
            terms[name][field] = value
    listed = list(terms.values())
    shown = yaml.safe_dump({"losses": listed}, sort_keys=False, default_flow_style=None)
    if shown not in _NOTICED:  # one notice per mapping, however often a process reads it
        _NOTICED.add(shown)
        logger.warning("losses: the mapping form (lbcl_weight, dbcl_weight, ...) is read as the list of terms\n%s"
                       "write this list in the config instead (docs/loss_terms.md)", shown)
    return listed
