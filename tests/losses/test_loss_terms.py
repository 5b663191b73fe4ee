"""The loss-term contract: built-in terms on a TrainingStep, the Criterion's weighted sum and logging, terms from specs,
and the example term of docs/loss_terms.md (kept in every ablation row)."""

from __future__ import annotations

import re
from typing import Literal

import pytest
import torch
from torch import nn

import clmlf
from clmlf.experiments.rows import ROWS, row_spec
from clmlf.losses import Criterion, CrossEntropyLoss, DBCLLoss, LBCLLoss, LossOutput, LossTermSpec, Term, TrainingStep, dbcl, lbcl
from clmlf.registry import registry
from conftest import REPO, TINY_CONFIG


def step(batch: int = 6, classes: int = 3, width: int = 5, seed: int = 0) -> TrainingStep:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, classes, generator=generator, requires_grad=True)
    z = torch.randn(batch, width, generator=generator, requires_grad=True)
    return TrainingStep(logits, torch.arange(batch) % classes, z, torch.randn(batch, width, generator=generator), None, None)


class Recorder(nn.Module):
    """A term returning a fixed value and named parts; counts its calls."""

    def __init__(self, value: float, parts: dict[str, float] | None = None) -> None:
        super().__init__()
        self.value, self.parts, self.calls = value, parts, 0

    def forward(self, step: TrainingStep):
        self.calls += 1
        total = step.logits.sum() * 0 + self.value
        return total if self.parts is None else LossOutput(total, {k: torch.tensor(v) for k, v in self.parts.items()})


def test_builtin_terms_read_the_step_as_their_tensor_calls():
    s = step()
    assert torch.equal(CrossEntropyLoss(0.1)(s), CrossEntropyLoss(0.1)(s.logits, s.labels))
    assert torch.equal(LBCLLoss(0.2, "clmlf")(s), lbcl(s.z, s.labels, 0.2, "clmlf"))
    assert torch.equal(DBCLLoss()(s), dbcl(s.z, s.z_aug))
    with pytest.raises(ValueError, match="loss term 'DBCLLoss' needs z_aug"):
        DBCLLoss()(TrainingStep(s.logits, s.labels, s.z, None))
    with pytest.raises(ValueError, match="loss term 'LBCLLoss' needs z: the model's projection"):
        LBCLLoss()(TrainingStep(s.logits, s.labels, None, None))


def test_criterion_sums_weighted_terms_logs_parts_and_skips_weight_zero():
    s = step()
    off = Recorder(5.0)
    criterion = Criterion([Term("sc", CrossEntropyLoss()), Term("lbcl", LBCLLoss(), 0.5, frozenset({"z"})),
                           Term("extra", Recorder(2.0, {"a": 1.5}), 0.25), Term("off", off, 0.0, frozenset({"z_aug"}))])
    out = criterion(s)
    assert list(out.terms) == ["sc", "lbcl", "extra", "extra/a"] and off.calls == 0
    expected = CrossEntropyLoss()(s) + 0.5 * LBCLLoss()(s) + 0.25 * 2.0
    torch.testing.assert_close(out.total, expected)
    assert criterion.uses == {"z"} and not any(value.requires_grad for value in out.terms.values())
    out.total.backward()
    assert s.z.grad.abs().sum() > 0 and s.logits.grad.abs().sum() > 0


def test_criterion_refuses_bad_terms():
    with pytest.raises(ValueError, match="every loss term has weight 0"):
        Criterion([Term("sc", CrossEntropyLoss(), 0.0)])
    with pytest.raises(ValueError, match="distinct names"):
        Criterion([Term("sc", CrossEntropyLoss()), Term("sc", CrossEntropyLoss())])
    with pytest.raises(TypeError, match="'f' must be an nn.Module"):
        Criterion([Term("f", lambda step: step.logits.sum())])

    class Rows(nn.Module):
        def forward(self, step):
            return step.logits.sum(-1)

    with pytest.raises(TypeError, match=r"loss term 'rows' returned torch.Size\(\[6\]\); a term returns a 0-d tensor"):
        Criterion([Term("rows", Rows())])(step())


def test_criterion_from_specs_names_terms_and_passes_cross_rank_only_when_distributed():
    spec = clmlf.load_spec(TINY_CONFIG, ["losses=[{type: cross_entropy}, {type: lbcl}, {type: lbcl, weight: 0.5, impl: pml}]"])
    assert [term.name for term in Criterion.from_specs(spec.losses).terms] == ["sc", "lbcl", "lbcl_2"]
    assert all(term.module.cross_rank is False for term in Criterion.from_specs(spec.losses).terms)
    assert spec.losses[1].build(distributed=True).cross_rank is True
    assert "weight" not in spec.losses[1].kwargs()
    with pytest.raises(clmlf.SpecError, match=r"losses.2 \(lbcl\): impl='pml' does not support cross_rank"):
        Criterion.from_specs(spec.losses, distributed=True)


class NotATermSpec(clmlf.ComponentSpec):
    type: Literal["not_a_term"] = "not_a_term"


@pytest.fixture
def scratch_registry(monkeypatch):
    """Registrations made in the test are dropped at its end."""
    monkeypatch.setattr(registry(), "_entries", {kind: dict(entries) for kind, entries in registry()._entries.items()})
    return registry()


def test_losses_must_be_weighted_terms(scratch_registry):
    scratch_registry.add("loss", "not_a_term", nn.Identity, NotATermSpec)
    with pytest.raises(clmlf.SpecError, match="losses.1: the spec of loss 'not_a_term' .* must subclass clmlf.losses.LossTermSpec"):
        clmlf.load_spec(TINY_CONFIG, ["losses=[{type: cross_entropy}, {type: not_a_term}]"])


def test_the_documented_example_term_trains_logs_and_stays_in_every_ablation_row(scratch_registry):
    (example,) = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "loss_terms.md").read_text(), flags=re.S)
    namespace: dict = {"__name__": "loss_terms_example"}
    exec(compile(example, "docs/loss_terms.md", "exec", dont_inherit=True), namespace)  # noqa: S102
    assert issubclass(namespace["ConfidencePenaltySpec"], LossTermSpec)
    base = clmlf.load_spec(TINY_CONFIG, ["losses=[{type: cross_entropy}, {type: lbcl}, {type: dbcl}, {type: confidence_penalty, weight: 0.1}]"])
    s = step()
    out = Criterion.from_specs(base.losses)(s)
    log_p = s.logits.log_softmax(-1)
    entropy = -(log_p.exp() * log_p).sum(-1).mean()
    assert list(out.terms) == ["sc", "lbcl", "dbcl", "confidence_penalty", "confidence_penalty/entropy"]
    torch.testing.assert_close(out.terms["confidence_penalty/entropy"], entropy.detach())
    torch.testing.assert_close(out.total, out.terms["sc"] + out.terms["lbcl"] + out.terms["dbcl"] - 0.1 * entropy.detach())
    for name in ("text_only", "mlf", "clmlf"):
        kept = [(term.type, term.weight) for term in row_spec(base, ROWS[name]).losses if term.weight > 0]
        assert ("confidence_penalty", 0.1) in kept and (("lbcl", 1.0) in kept) == (name == "clmlf")
