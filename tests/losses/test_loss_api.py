"""Input validation, the nn.Module wrappers, CLMLFLoss and the registry entries."""

from __future__ import annotations

import pytest
import torch
from _loss_cases import inputs

from clmlf.losses import CLMLFLoss, CrossEntropyLoss, DBCLLoss, LBCLLoss, LossOutput, dbcl, lbcl
from clmlf.registry import get_component, registry


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda z, y: lbcl(z, y, variant="simclr"), ValueError, "valid variants: 'supcon', 'clmlf'"),
        (lambda z, y: dbcl(z, z, variant="supcon"), ValueError, "valid variants: 'ntxent', 'clmlf'"),
        (lambda z, y: lbcl(z, y, impl="cuda"), ValueError, "valid impls: 'auto', 'reference', 'chunked', 'triton', 'pml'"),
        (lambda z, y: lbcl(z, y, temperature=0.0), ValueError, "temperature must be a finite number > 0"),
        (lambda z, y: lbcl(z, y, temperature=torch.tensor(-1.0)), ValueError, "> 0"),
        (lambda z, y: lbcl(z, y, temperature=float("nan")), ValueError, "> 0"),
        (lambda z, y: lbcl(z, y, temperature=torch.ones(2)), ValueError, "0-d tensor"),
        (lambda z, y: lbcl(z, y, temperature="0.1"), TypeError, "float or a 0-d tensor"),
        (lambda z, y: lbcl(z[0], y), ValueError, r"z must be 2-D \(N, d\); got shape \(3,\)"),
        (lambda z, y: lbcl(z[:, :, None], y), ValueError, "2-D"),
        (lambda z, y: lbcl(z[:0], y[:0]), ValueError, "empty"),
        (lambda z, y: lbcl(z.long(), y), TypeError, "floating point"),
        (lambda z, y: lbcl(z, y[:-1]), ValueError, r"labels must have shape \(N,\) = \(5,\)"),
        (lambda z, y: lbcl(z, y.float()), TypeError, "integer class ids"),
        (lambda z, y: lbcl(z, [0, 1, 2, 3, 4]), TypeError, "labels must be a torch.Tensor"),
        (lambda z, y: dbcl(z, z[:-1]), ValueError, "z and z_aug must match"),
        (lambda z, y: dbcl(z, z.float()), ValueError, "z and z_aug must match"),
        (lambda z, y: lbcl(z, y, cross_rank="yes"), TypeError, "cross_rank must be False, True or"),
    ],
)
def test_invalid_inputs_fail_loudly(call, error, message):
    z, labels = inputs("lbcl/supcon", 5, 3)
    with pytest.raises(error, match=message):
        call(z, labels)


def test_modules_match_the_functions():
    z, labels = inputs("lbcl/supcon", 12, 6, seed=1)
    z_aug = torch.randn_like(z)
    torch.testing.assert_close(LBCLLoss(0.1, "clmlf")(z, labels), lbcl(z, labels, 0.1, "clmlf", "reference"))
    torch.testing.assert_close(DBCLLoss(0.2)(z, z_aug), dbcl(z, z_aug, 0.2, impl="reference"))
    logits = torch.randn(12, 3)
    smoothed = CrossEntropyLoss(label_smoothing=0.1)(logits, labels % 3)
    torch.testing.assert_close(smoothed, torch.nn.functional.cross_entropy(logits, labels % 3, label_smoothing=0.1))
    with pytest.raises(ValueError, match="valid variants"):
        LBCLLoss(variant="ntxent")
    assert "variant='clmlf'" in repr(LBCLLoss(variant="clmlf"))


def test_clmlf_loss_is_the_weighted_sum_with_detached_terms():
    z, labels = inputs("lbcl/supcon", 10, 6, seed=2)
    z_aug = torch.randn(10, 6, dtype=torch.float64, requires_grad=True)
    logits = torch.randn(10, 3, dtype=torch.float64, requires_grad=True)
    labels = labels % 3
    loss = CLMLFLoss(lambda_lbcl=0.5, lambda_dbcl=2.0)
    out = loss(logits, labels, z, z_aug)
    assert isinstance(out, LossOutput) and set(out.terms) == {"sc", "lbcl", "dbcl"}
    assert not any(term.requires_grad for term in out.terms.values())
    expected = torch.nn.functional.cross_entropy(logits, labels)
    expected = expected + 0.5 * lbcl(z, labels, impl="reference") + 2.0 * dbcl(z, z_aug, impl="reference")
    torch.testing.assert_close(out.total, expected)
    torch.testing.assert_close(out.total, out.terms["sc"] + 0.5 * out.terms["lbcl"] + 2.0 * out.terms["dbcl"])
    out.total.backward()
    assert z.grad.abs().max() > 0 and z_aug.grad.abs().max() > 0 and logits.grad.abs().max() > 0


def test_clmlf_loss_skips_zero_weighted_terms_and_names_missing_inputs():
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    out = CLMLFLoss(lambda_lbcl=0, lambda_dbcl=0)(logits, labels)
    assert set(out.terms) == {"sc"} and torch.equal(out.total, out.terms["sc"])
    with pytest.raises(ValueError, match="needs z"):
        CLMLFLoss(lambda_dbcl=0)(logits, labels)
    with pytest.raises(ValueError, match="needs z_aug"):
        CLMLFLoss(lambda_lbcl=0)(logits, labels, torch.randn(4, 5))
    with pytest.raises(TypeError, match="lbcl must be a loss module or None .* weights of the terms are lambda_lbcl"):
        CLMLFLoss(lbcl=0.5)  # a weight given where the module goes: refused at construction, not at the first step


@pytest.mark.parametrize(
    "name, module, fields",
    [
        ("lbcl", LBCLLoss, {"temperature": 0.2, "variant": "clmlf", "impl": "chunked"}),
        ("dbcl", DBCLLoss, {"temperature": 0.5, "variant": "clmlf", "impl": "reference"}),
        ("cross_entropy", CrossEntropyLoss, {"label_smoothing": 0.1}),
    ],
)
def test_registered_and_built_from_spec(name, module, fields):
    assert get_component("loss", name) is module
    spec_cls = registry().entry("loss", name).spec
    spec = spec_cls(**fields)
    built = spec.build()
    assert isinstance(built, module) and all(getattr(built, key) == value for key, value in fields.items())
    assert spec_cls.model_validate(spec.model_dump()) == spec
    with pytest.raises(Exception, match="Extra inputs are not permitted"):
        spec_cls(bogus=1)


@pytest.mark.parametrize("case", ["lbcl/supcon", "lbcl/clmlf", "dbcl/ntxent", "dbcl/clmlf", "no_positives"])
def test_default_impl_compiles_into_one_graph(case):
    """Under ``torch.compile`` ``impl="auto"`` traces the reference math with no graph break (no value read back to
    the host); value and gradient equal the eager reference."""
    loss = "lbcl/supcon" if case == "no_positives" else case
    z, labels = inputs(loss, 9, 5, seed=4)
    labels = torch.arange(9) if case == "no_positives" else labels
    second = labels if loss.startswith("lbcl") else torch.randn_like(z)
    function = lbcl if loss.startswith("lbcl") else dbcl
    variant = loss.split("/")[1]
    torch._dynamo.reset()
    compiled = torch.compile(lambda z, s: function(z, s, 0.1, variant), backend="aot_eager", fullgraph=True)
    value = compiled(z, second)
    (grad,) = torch.autograd.grad(value, z)
    expected = function(z, second, 0.1, variant, "reference")
    torch.testing.assert_close(value, expected)
    torch.testing.assert_close(grad, torch.autograd.grad(expected, z)[0])
    if case == "no_positives":
        assert value.item() == 0 and (grad == 0).all()
    else:
        assert value.abs() > 0 and grad.abs().sum() > 0
