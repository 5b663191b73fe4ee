"""The ``bert`` dropout layout of our Transformer layer against transformers' ``BertLayer`` (the reference code's TE_I
and TE_M) in train mode, and old checkpoints under both layouts."""

import json

import pytest
import torch

import clmlf
from clmlf.fusion.layers import TransformerLayer
from clmlf.model import CLMLF
from conftest import TINY_CONFIG, tiny_batch

transformers = pytest.importorskip("transformers")


def bert_layer_like(ours: TransformerLayer, hidden_dropout: float, attention_dropout: float):
    """A ``BertLayer`` (eager attention) holding ``ours``' weights (in ``ours``' dtype)."""
    from transformers.models.bert.modeling_bert import BertLayer

    d_model = ours.qkv.in_features
    config = transformers.BertConfig(
        hidden_size=d_model, num_attention_heads=ours.num_heads, intermediate_size=ours.ffn[0].out_features,
        hidden_act="gelu", hidden_dropout_prob=hidden_dropout, attention_probs_dropout_prob=attention_dropout,
        layer_norm_eps=ours.norm_attn.eps, attn_implementation="eager",
    )
    theirs = BertLayer(config).to(ours.qkv.weight.dtype)
    attention = theirs.attention
    with torch.no_grad():
        for index, projection in enumerate((attention.self.query, attention.self.key, attention.self.value)):
            projection.weight.copy_(ours.qkv.weight[index * d_model:(index + 1) * d_model])
            projection.bias.copy_(ours.qkv.bias[index * d_model:(index + 1) * d_model])
        attention.output.dense.load_state_dict(ours.out.state_dict())
        attention.output.LayerNorm.load_state_dict(ours.norm_attn.state_dict())
        theirs.intermediate.dense.load_state_dict(ours.ffn[0].state_dict())
        theirs.output.dense.load_state_dict(ours.ffn[3].state_dict())
        theirs.output.LayerNorm.load_state_dict(ours.norm_ffn.state_dict())
    return theirs


def run_seeded(layer, seed: int, *args, **kwargs) -> torch.Tensor:
    torch.manual_seed(seed)
    out = layer(*args, **kwargs)
    return out[0] if isinstance(out, tuple) else out


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
DEVICES = [("cpu", torch.float64, 1e-12), pytest.param("cuda", torch.float32, 1e-5, marks=CUDA)]


@pytest.mark.parametrize("device, dtype, tolerance", DEVICES)
@pytest.mark.parametrize("hidden_dropout, attention_dropout", [(0.1, 0.1), (0.1, 0.3)])
def test_bert_layout_matches_bert_layer_in_train_mode(hidden_dropout, attention_dropout, device, dtype, tolerance):
    """Same weights, same seed before each forward: same dropout masks, same outputs (padded positions included).
    On a CPU, ``scaled_dot_product_attention``'s math path would draw like the explicit dropout too; on CUDA its
    fused kernels draw differently, which the bert layout avoids."""
    ours = TransformerLayer(24, num_heads=4, ffn_dim=40, dropout=hidden_dropout, dropout_layout="bert",
                            attention_dropout=attention_dropout).to(device, dtype).train()
    theirs = bert_layer_like(ours, hidden_dropout, attention_dropout).to(device, dtype).train()
    x = torch.randn(3, 7, 24, dtype=dtype, device=device, requires_grad=True)
    mask = torch.ones(3, 7, dtype=torch.bool, device=device)
    mask[1, 4:] = False
    mask[2, 6:] = False
    extended = torch.zeros(3, 1, 1, 7, dtype=dtype, device=device).masked_fill(~mask[:, None, None, :], torch.finfo(dtype).min)
    for seed in (0, 1):
        out = run_seeded(ours, seed, x, mask)
        expected = run_seeded(theirs, seed, x, attention_mask=extended)
        torch.testing.assert_close(out, expected, rtol=tolerance, atol=tolerance)
        grad, = torch.autograd.grad((out ** 2).sum(), x)
        grad_ref, = torch.autograd.grad((expected ** 2).sum(), x)
        torch.testing.assert_close(grad, grad_ref, rtol=100 * tolerance, atol=100 * tolerance)
    assert not torch.allclose(run_seeded(ours, 0, x, mask), run_seeded(ours, 1, x, mask)), "dropout is active"
    if attention_dropout != hidden_dropout:  # attention_dropout is a field of its own: None (= dropout) differs
        shared = TransformerLayer(24, num_heads=4, ffn_dim=40, dropout=hidden_dropout, dropout_layout="bert")
        shared = shared.to(device, dtype).train()
        shared.load_state_dict(ours.state_dict())
        assert not torch.allclose(run_seeded(shared, 0, x, mask), run_seeded(theirs, 0, x, attention_mask=extended))


def test_torch_layout_keeps_its_extra_ffn_dropout_and_differs_from_bert_layer():
    ours = TransformerLayer(24, num_heads=4, ffn_dim=40, dropout=0.1).double().train()
    assert isinstance(ours.ffn[2], torch.nn.Dropout) and ours.attention_dropout == 0.1
    bert = TransformerLayer(24, num_heads=4, ffn_dim=40, dropout=0.1, dropout_layout="bert")
    assert isinstance(bert.ffn[2], torch.nn.Identity)
    with pytest.raises(ValueError, match="dropout_layout must be one of 'torch', 'bert'; got 'tf'"):
        TransformerLayer(24, num_heads=4, dropout_layout="tf")


@pytest.mark.parametrize("layout", ["torch", "bert"])
def test_an_old_layout_state_dict_loads_into_both_layouts_and_predicts_identically(layout):
    old = TransformerLayer(24, num_heads=4, ffn_dim=40).double().eval()
    new = TransformerLayer(24, num_heads=4, ffn_dim=40, dropout_layout=layout, attention_dropout=0.2).double().eval()
    assert list(new.state_dict()) == list(old.state_dict())
    new.load_state_dict(old.state_dict())  # strict: same keys (ffn.3 is the second Linear in both layouts)
    x = torch.randn(2, 5, 24, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(new(x, mask)[0], old(x, mask)[0])


def test_a_saved_checkpoint_loads_under_the_bert_layout_and_predicts_identically(tiny_model, tmp_path):
    batch = tiny_batch()
    expected = tiny_model(**batch).logits
    tiny_model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    for part in ("fusion", "image_transformer"):
        config["spec"][part]["dropout_layout"] = "bert"
    (tmp_path / "config.json").write_text(json.dumps(config))
    restored = CLMLF.from_pretrained(tmp_path).eval()
    assert isinstance(restored.fusion.stack.layers[0].ffn[2], torch.nn.Identity)
    assert torch.equal(restored(**batch).logits, expected)


def test_the_bert_layout_trains_a_tiny_model_one_step():
    overrides = [f"model.{part}.{field}" for part in ("fusion", "image_transformer")
                 for field in ("dropout_layout=bert", "attention_dropout=0.2")]
    spec = clmlf.load_spec(TINY_CONFIG, overrides)
    assert spec.model.fusion.dropout_layout == "bert" and spec.model.image_transformer.attention_dropout == 0.2
    model = clmlf.build_model(spec).train()
    batch, labels = tiny_batch(), torch.tensor([0, 2])
    torch.manual_seed(3)
    first = model(**batch).logits
    torch.manual_seed(3)
    assert torch.equal(model(**batch).logits, first), "same seed, same dropout masks"
    before = model.fusion.stack.layers[0].ffn[3].weight.detach().clone()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss = torch.nn.functional.cross_entropy(first, labels)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and not torch.equal(model.fusion.stack.layers[0].ffn[3].weight, before)
    torch.manual_seed(3)
    assert torch.nn.functional.cross_entropy(model(**batch).logits, labels) < loss
