"""The rows of the paper's ablation (Table 3) as explicit edits of one base spec (the full CLMLF).

Every row keeps the base's encoders, sizes, data and training settings and changes only what its name says:

| row | model | losses |
|---|---|---|
| ``text_only`` | text encoder -> [CLS] (``pooler: cls``) -> head; no image encoder, TE_I or TE_M (the BERT row) | CE |
| ``image_only`` | image encoder -> mean of its tokens -> Linear+GELU -> head (``fusion: late, modalities: [image]``); no TE_I | CE |
| ``late_fusion`` | mean text tokens ⊕ mean image tokens -> Linear+GELU -> head (``fusion: late``); no TE_I | CE |
| ``mlf`` | the base model (TE_I + TE_M + attention pooling) | CE |
| ``mlf_lbcl`` / ``mlf_dbcl`` | the base model | CE + LBCL / CE + DBCL |
| ``clmlf`` | the base model | CE + LBCL + DBCL |
| ``text_lbcl`` / ``text_dbcl`` / ``text_lbcl_dbcl`` | the ``text_only`` model | CE + LBCL / + DBCL / + both |

Datasets without images (MVSA-Multiple, HFM, Twitter-15/17 in the shared bundle) get the text-side ladder
(``text_only`` and the three ``text_*`` rows): the same [CLS] model, so the rows differ only by their loss. Their DBCL
contrasts the text with its back-translation (the text itself where a dataset has none: dropout noise only).
``image_only`` still runs the text encoder (CLMLF always reads text), but its output is unused and gets no gradient.
Rows edit the base's ``losses`` list by term type: an ``lbcl`` / ``dbcl`` term keeps its settings and weight in the
rows that use it (a weight the base leaves at 0 becomes 1, the paper's λ; a missing term is added with the defaults)
and gets weight 0 in the others; ``cross_entropy`` and every other term (a plugin's) are kept as the base has them, in
every row, so the ladder measures LBCL and DBCL on top of the base's own objective. The projection heads follow what
the row's weighted terms read: ``projection`` when one reads z (added as an MLP if the base has none, dropped
otherwise), ``augmented_projection`` only when one reads z_aug.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clmlf.errors import SpecError
from clmlf.losses.terms import LossTermSpec, inputs_used
from clmlf.registry import get_spec_class
from clmlf.spec import ExperimentSpec, load_spec

TEXT_ONLY_MODEL: dict[str, Any] = {"image_encoder": None, "image_transformer": None, "fusion": None, "pooler": {"type": "cls"}}
DEFAULT_PROJECTION: dict[str, Any] = {"type": "mlp"}


@dataclass(frozen=True)
class Row:
    """One ablation row: model fields to replace (``None`` removes a part), which contrastive losses are on."""

    name: str
    description: str
    model: dict[str, Any] = field(default_factory=dict)
    lbcl: bool = False
    dbcl: bool = False
    needs_images: bool = False

    @property
    def mlf(self) -> bool:
        """Whether the row keeps the base model as it is (TE_I + TE_M: the MLF rows)."""
        return not self.model


ROWS: dict[str, Row] = {row.name: row for row in (
    Row("text_only", "text only ([CLS] + classifier)", TEXT_ONLY_MODEL),
    Row("image_only", "image only (pooled image tokens + classifier)",
        {"image_transformer": None, "fusion": {"type": "late", "modalities": ["image"]}, "pooler": {"type": "cls"}},
        needs_images=True),
    Row("late_fusion", "late fusion (pooled text ⊕ pooled image)",
        {"image_transformer": None, "fusion": {"type": "late"}, "pooler": {"type": "cls"}}, needs_images=True),
    Row("mlf", "+ MLF", needs_images=True),
    Row("mlf_lbcl", "+ MLF, LBCL", lbcl=True, needs_images=True),
    Row("mlf_dbcl", "+ MLF, DBCL", dbcl=True, needs_images=True),
    Row("clmlf", "CLMLF (MLF, LBCL, DBCL)", lbcl=True, dbcl=True, needs_images=True),
    Row("text_lbcl", "text only, LBCL", TEXT_ONLY_MODEL, lbcl=True),
    Row("text_dbcl", "text only, DBCL", TEXT_ONLY_MODEL, dbcl=True),
    Row("text_lbcl_dbcl", "text only, LBCL + DBCL", TEXT_ONLY_MODEL, lbcl=True, dbcl=True),
)}
IMAGE_LADDER = ("text_only", "image_only", "late_fusion", "mlf", "mlf_lbcl", "mlf_dbcl", "clmlf")
TEXT_LADDER = ("text_only", "text_lbcl", "text_dbcl", "text_lbcl_dbcl")


def has_images(spec: ExperimentSpec) -> bool:
    """Whether the base model reads images and its dataset provides them (dataset specs with ``images: false`` don't)."""
    return spec.model.image_encoder is not None and spec.data is not None and getattr(spec.data.dataset, "images", True)


def select_rows(base: ExperimentSpec, names: list[str] | None) -> list[Row]:
    """The rows to run: ``names`` in the given order, or the whole ladder that fits the dataset."""
    images = has_images(base)
    names = names or list(IMAGE_LADDER if images else TEXT_LADDER)
    problems = [f"--rows: unknown row {name!r}; known: {', '.join(ROWS)}" for name in names if name not in ROWS]
    known = [ROWS[name] for name in names if name in ROWS]
    if not images:
        problems += [f"--rows: {row.name} needs images; this config's model or dataset has none (use {', '.join(TEXT_LADDER)})"
                     for row in known if row.needs_images]
    if base.model.fusion is None and any(row.mlf for row in known):
        problems.append("the MLF rows need a base config with model.fusion (the full CLMLF); pick rows with --rows")
    if problems:
        raise SpecError("ablate", problems)
    return known


def row_losses(base: ExperimentSpec, row: Row) -> list[LossTermSpec]:
    """The base's loss terms with LBCL and DBCL on or off as ``row`` says (see the module docstring)."""
    wanted = {"lbcl": row.lbcl, "dbcl": row.dbcl}
    missing = [get_spec_class("loss", name)() for name, on in wanted.items() if on and all(t.type != name for t in base.losses)]
    return [term.model_copy(update={"weight": (term.weight or 1.0) if wanted[term.type] else 0.0}) if term.type in wanted else term
            for term in [*base.losses, *missing]]


def row_spec(base: ExperimentSpec, row: Row) -> ExperimentSpec:
    """``base`` edited into ``row`` and validated again (named ``<base name>-<row>``)."""
    data = base.model_dump(mode="json")
    losses = row_losses(base, row)
    reads = inputs_used(losses)
    model = {**data["model"], **row.model}
    model["projection"] = (model["projection"] or DEFAULT_PROJECTION) if reads else None
    model["augmented_projection"] = model["augmented_projection"] if "z_aug" in reads else None
    return load_spec({**data, "name": f"{base.name}-{row.name}", "model": model,
                      "losses": [term.model_dump(mode="json") for term in losses]})
