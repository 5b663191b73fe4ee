"""Our SDPA Transformer layer, the legacy token layout and attention pooling against slow, readable references."""

import pytest
import torch
from torch import nn

from clmlf.encoders.image_tokens import feature_map_to_tokens
from clmlf.fusion.layers import TransformerLayer
from clmlf.heads import AttentionPooling


def copy_into_torch_layer(ours: TransformerLayer, norm_first: bool) -> nn.TransformerEncoderLayer:
    d_model = ours.qkv.in_features
    theirs = nn.TransformerEncoderLayer(
        d_model, ours.num_heads, ours.ffn[0].out_features, dropout=0.0, activation="gelu",
        layer_norm_eps=ours.norm_attn.eps, batch_first=True, norm_first=norm_first,
    ).double()
    with torch.no_grad():
        theirs.self_attn.in_proj_weight.copy_(ours.qkv.weight)
        theirs.self_attn.in_proj_bias.copy_(ours.qkv.bias)
        theirs.self_attn.out_proj.weight.copy_(ours.out.weight)
        theirs.self_attn.out_proj.bias.copy_(ours.out.bias)
        theirs.linear1.load_state_dict(ours.ffn[0].state_dict())
        theirs.linear2.load_state_dict(ours.ffn[3].state_dict())
        theirs.norm1.load_state_dict(ours.norm_attn.state_dict())
        theirs.norm2.load_state_dict(ours.norm_ffn.state_dict())
    return theirs


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
def test_layer_matches_torch_transformer_layer_fp64(norm_first, need_weights):
    ours = TransformerLayer(24, num_heads=4, ffn_dim=40, dropout=0.0, norm_first=norm_first).double().eval()
    theirs = copy_into_torch_layer(ours, norm_first).eval()
    x = torch.randn(3, 7, 24, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[1, 4:] = False
    out, weights = ours(x, mask, need_weights)
    expected = theirs(x, src_key_padding_mask=~mask)
    torch.testing.assert_close(out[mask], expected[mask], rtol=1e-10, atol=1e-10)
    grad, = torch.autograd.grad((out[mask] ** 2).sum(), x)
    grad_ref, = torch.autograd.grad((expected[mask] ** 2).sum(), x)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-9, atol=1e-9)
    if need_weights:
        assert weights.shape == (3, 4, 7, 7) and (weights[1, :, :, 4:] == 0).all()


def test_legacy_view_reproduces_reference_reshape():
    features = torch.arange(2 * 8 * 3 * 3, dtype=torch.float32).view(2, 8, 3, 3)
    legacy = feature_map_to_tokens(features, "legacy_view")
    torch.testing.assert_close(legacy, features.view(2, -1, 8))
    spatial = feature_map_to_tokens(features, "spatial")
    torch.testing.assert_close(spatial[1, 4], features[1, :, 1, 1])  # token 4 = position (1, 1), all channels
    assert not torch.equal(legacy, spatial)


@pytest.mark.parametrize("output_projection", [False, True])
def test_attention_pooling_follows_equations_6_to_9(output_projection):
    pool = AttentionPooling(8, output_projection=output_projection).double()
    hidden = torch.randn(2, 5, 8, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    out = pool(hidden, mask)
    w1, w2 = pool.score[0], pool.score[2]
    for b in range(2):
        real = hidden[b, mask[b]]
        q = torch.nn.functional.gelu(real @ w1.weight.T + w1.bias) @ w2.weight.T + w2.bias  # Eq. 6-7
        alpha = torch.softmax(q.squeeze(-1), 0)  # Eq. 8
        pooled = (alpha[:, None] * real).sum(0)
        if output_projection:  # Eq. 9
            pooled = torch.nn.functional.gelu(pooled @ pool.project[0].weight.T + pool.project[0].bias)
        torch.testing.assert_close(out.pooled[b], pooled, rtol=1e-12, atol=1e-12)  # float64 throughout
        torch.testing.assert_close(out.weights[b, mask[b]], alpha, rtol=1e-12, atol=1e-12)
    assert out.weights.dtype == torch.float64


def test_attention_pooling_softmax_runs_in_float32_for_bf16():
    pool = AttentionPooling(8).to(torch.bfloat16)
    hidden = torch.randn(2, 5, 8).to(torch.bfloat16)
    scores = pool.score(hidden).squeeze(-1).float()
    weights = pool(hidden, torch.ones(2, 5, dtype=torch.bool)).weights
    assert weights.dtype == torch.bfloat16
    torch.testing.assert_close(weights, scores.softmax(-1).to(torch.bfloat16), rtol=0, atol=0)


def test_a_row_without_real_tokens_gives_zeros_not_nan():
    """A fully padded row: SDPA attends to nothing (zeros); the need_weights path and attention pooling did NaN."""
    from clmlf.fusion import FusionEncoder

    fusion = FusionEncoder(8, num_layers=2, num_heads=2, ffn_dim=16, dropout=0.0).eval()
    pool = AttentionPooling(8)
    text = torch.randn(2, 4, 8, requires_grad=True)
    mask = torch.tensor([[True, True, False, False], [False, False, False, False]])
    sdpa = fusion(text, mask)
    explicit = fusion(text, mask, need_weights=True)
    torch.testing.assert_close(explicit.hidden, sdpa.hidden)
    assert (explicit.attentions[-1][1] == 0).all()
    out = pool(explicit.hidden, explicit.mask)
    assert torch.isfinite(out.pooled).all() and (out.weights[1] == 0).all()
    torch.testing.assert_close(out.weights[0].sum(), torch.tensor(1.0))
    out.pooled.sum().backward()
    assert torch.isfinite(text.grad).all() and all(torch.isfinite(p.grad).all() for p in pool.parameters())
