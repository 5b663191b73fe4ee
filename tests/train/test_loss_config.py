"""The ``losses`` list trains exactly as the old ``losses`` mapping did, and runs saved with the mapping still resume
and are reused by ``clmlf ablate``.

PINNED holds the one-epoch metrics of the tiny config (TINY_RUN: 32 real MVSA-Single samples, batch 8) computed with
the code before the list of terms (commit e9090af, on a CPU with one thread); the old mapping and the list must give
exactly these numbers with the library versions of PINNED_VERSIONS, and the same numbers as each other anywhere.
"""

from __future__ import annotations

import json
import logging

import pytest
import torch

import clmlf
from clmlf.experiments.rows import ROWS, row_spec
from clmlf.experiments.seeds import seeded
from clmlf.losses import legacy
from clmlf.spec import read_yaml
from clmlf.train.run_dir import RunDir, spec_conflicts
from clmlf.train.trainer import train
from conftest import TINY_CONFIG, TINY_RUN, has_real_data

OLD_DEFAULTS = {"lbcl_weight": 1.0, "dbcl_weight": 1.0, "temperature": 0.07, "lbcl_variant": "supcon",
                "dbcl_variant": "ntxent", "impl": "auto", "label_smoothing": 0.0, "cross_rank": True}
"""The ``losses`` section as the old code wrote it into config.json."""
VARIANT_MAPPING = {"lbcl_weight": 0.5, "dbcl_variant": "clmlf", "temperature": 0.1, "label_smoothing": 0.1, "impl": "reference"}
VARIANT_LIST = ["losses.lbcl.weight=0.5", "losses.dbcl.variant=clmlf", "losses.lbcl.temperature=0.1",
                "losses.dbcl.temperature=0.1", "losses.cross_entropy.label_smoothing=0.1", "losses.lbcl.impl=reference",
                "losses.dbcl.impl=reference"]
PINNED = {
    "default": {
        "train": {"loss": 17.842843055725098, "sc": 1.088957518339157, "lbcl": 1.9455087184906006, "dbcl": 14.80837631225586},
        "dev_cross_entropy": 1.1017737514474546, "test_cross_entropy": 1.0996901836499149, "test_accuracy": 0.2916666666666667,
    },
    "variant": {
        "train": {"loss": 4.112583518028259, "sc": 1.0602613389492035, "lbcl": 1.9484489262104034, "dbcl": 2.0780975818634033},
        "dev_cross_entropy": 1.0273612155159728, "test_cross_entropy": 1.027200596303252, "test_accuracy": 0.5833333333333334,
    },
}

PINNED_VERSIONS = ("2.14.1", "5.25.0", "1.0.31")
"""torch, transformers and timm when PINNED was computed."""
data = pytest.mark.skipif(not has_real_data(), reason="real data (../shared/data) absent")


def mapping_form(losses: dict) -> dict:
    """The tiny config with its losses written in the old mapping form."""
    return {**read_yaml(TINY_CONFIG), "losses": losses}


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def one_epoch(metrics: dict) -> dict:
    return {"train": metrics["epochs"][0]["train"], "dev_cross_entropy": metrics["epochs"][0]["dev"]["cross_entropy"],
            "test_cross_entropy": metrics["test"]["cross_entropy"], "test_accuracy": metrics["test"]["accuracy"]}


@data
@pytest.mark.parametrize("case", ["default", "variant"])
def test_list_and_old_mapping_train_bit_identically_to_the_old_code(tmp_path, one_thread, case):
    forms = {"list": clmlf.load_spec(TINY_CONFIG, TINY_RUN + (VARIANT_LIST if case == "variant" else [])),
             "mapping": clmlf.load_spec(mapping_form({**OLD_DEFAULTS, **(VARIANT_MAPPING if case == "variant" else {})}), TINY_RUN)}
    metrics = [one_epoch(train(spec, tmp_path / form, progress=False)) for form, spec in forms.items()]
    assert metrics[0] == metrics[1]
    if in_the_pinned_environment():
        assert metrics[0] == PINNED[case]


def in_the_pinned_environment() -> bool:
    """Whether torch, transformers and timm are the versions PINNED was computed with (constraints.txt); other
    versions initialise and compute slightly differently, so there the two forms are compared with each other only."""
    import timm
    import transformers

    return (torch.__version__.split("+")[0], transformers.__version__, timm.__version__) == PINNED_VERSIONS


def test_the_old_mapping_is_read_as_terms_with_one_notice(caplog, monkeypatch):
    monkeypatch.setattr(legacy, "_NOTICED", set())
    with caplog.at_level(logging.WARNING, logger="clmlf"):
        spec = clmlf.load_spec(mapping_form({**OLD_DEFAULTS, **VARIANT_MAPPING, "cross_rank": False}))
        assert clmlf.load_spec(spec.model_dump(mode="json")) == spec  # the list form: no notice
        clmlf.load_spec(mapping_form({**OLD_DEFAULTS, **VARIANT_MAPPING, "cross_rank": False}))  # read again: noticed once
    notices = [record.getMessage() for record in caplog.records]
    assert len(notices) == 1 and "- {type: cross_entropy, label_smoothing: 0.1}" in notices[0]
    assert [term.model_dump() for term in spec.losses] == [
        {"type": "cross_entropy", "weight": 1.0, "label_smoothing": 0.1, "cross_rank": True},
        {"type": "lbcl", "weight": 0.5, "temperature": 0.1, "impl": "reference", "cross_rank": False, "variant": "supcon"},
        {"type": "dbcl", "weight": 1.0, "temperature": 0.1, "impl": "reference", "cross_rank": False, "variant": "clmlf"},
    ]
    with pytest.raises(clmlf.SpecError, match="losses.lbcl: not a key of the old losses mapping"):
        clmlf.load_spec(mapping_form({"lbcl": 1.0}))


def old_run_config(spec: clmlf.ExperimentSpec, losses: dict) -> str:
    """config.json as the old code wrote it for ``spec`` trained with the ``losses`` mapping."""
    return json.dumps({**spec.model_dump(mode="json"), "losses": {**OLD_DEFAULTS, **losses}})


def test_old_run_configs_match_the_list_form(tmp_path):
    """A run saved with the mapping form: ``--resume`` accepts the list form (a term's impl may change, nothing else),
    and an old ablation row is reused by the row the list form gives."""
    spec = clmlf.load_spec(TINY_CONFIG, TINY_RUN)
    (tmp_path / "config.json").write_text(old_run_config(spec, {}))
    run = RunDir(tmp_path)
    assert run.resume_spec(clmlf.load_spec(TINY_CONFIG, [*TINY_RUN, "losses.dbcl.impl=reference"])) is not None
    with pytest.raises(clmlf.SpecError, match="losses.lbcl.temperature: 0.07 -> 0.1"):
        run.resume_spec(clmlf.load_spec(TINY_CONFIG, [*TINY_RUN, "losses.lbcl.temperature=0.1"]))
    mlf = seeded(row_spec(spec, ROWS["mlf"]), 0)
    old_row = json.loads(old_run_config(mlf, {"lbcl_weight": 0.0, "dbcl_weight": 0.0}))
    (tmp_path / "config.json").write_text(json.dumps(old_row))
    assert spec_conflicts(run.read_spec(), mlf) == []
    text_only_base = clmlf.load_spec(TINY_CONFIG, [*TINY_RUN, "losses=[{type: cross_entropy}]"])
    assert spec_conflicts(run.read_spec(), seeded(row_spec(text_only_base, ROWS["mlf"]), 0)) == [], "weight-0 terms train nothing"


@data
def test_a_run_saved_with_the_mapping_resumes_with_the_list(tmp_path, one_thread):
    spec = clmlf.load_spec(mapping_form(OLD_DEFAULTS), TINY_RUN)
    first = train(spec, tmp_path, progress=False)
    (tmp_path / "config.json").write_text(old_run_config(spec, {}))
    resumed = train(clmlf.load_spec(TINY_CONFIG, [*TINY_RUN, "train.epochs=2"]), tmp_path, resume=True, progress=False)
    assert resumed["epochs"][0]["train"] == first["epochs"][0]["train"]
    assert len(resumed["epochs"]) == 2 and set(resumed["epochs"][1]["train"]) == {"loss", "sc", "lbcl", "dbcl"}
