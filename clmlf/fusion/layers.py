"""A Transformer encoder layer on ``scaled_dot_product_attention`` that can also return its attention map."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from clmlf.checks import check_choice, check_sequence
from clmlf.outputs import TransformerOutput
from clmlf.spec import MAX_LAYERS, MAX_WIDTH, ComponentSpec

Activation = Literal["gelu", "relu", "gelu_tanh"]
DropoutLayout = Literal["torch", "bert"]
ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "gelu_tanh": lambda: nn.GELU(approximate="tanh")}


class TransformerLayer(nn.Module):
    """Self-attention + feed-forward block, post-norm (BERT, the reference code) or pre-norm.

    x: (B, L, D); key_mask: (B, L) bool, True for real tokens. Padded keys get no attention; a query whose keys are
    all padded attends to nothing (zero context and zero weights, as ``scaled_dot_product_attention`` gives).

    Dropout: ``attention_dropout`` (None: ``dropout``) on the attention probabilities; ``dropout`` on the attention
    block's and the feed-forward block's outputs before each residual sum; ``dropout_layout`` says where else:
    ``torch`` (as ``nn.TransformerEncoderLayer``) also drops between the feed-forward activation and its second
    Linear; ``bert`` (transformers' ``BertLayer``, the reference code's TE_I and TE_M) does not, and in training
    draws its dropout masks as ``BertLayer`` does (probabilities, attention output, feed-forward output, in that
    order; explicit softmax, no fused kernel), so the same seed gives the same masks. Both layouts have the same
    parameters and state-dict keys (``ffn.3`` is the second Linear in both).
    """

    def __init__(
        self,
        d_model: int = 768,
        num_heads: int = 12,
        ffn_dim: int = 3072,
        dropout: float = 0.1,
        activation: Activation = "gelu",
        norm_first: bool = False,
        layer_norm_eps: float = 1e-12,
        dropout_layout: DropoutLayout = "torch",
        attention_dropout: float | None = None,
    ) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} must be divisible by num_heads={num_heads}")
        check_choice("activation", activation, Activation)
        check_choice("dropout_layout", dropout_layout, DropoutLayout)
        self.num_heads = num_heads
        self.dropout_layout = dropout_layout
        self.attention_dropout = dropout if attention_dropout is None else attention_dropout
        self.norm_first = norm_first
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        inner_dropout = nn.Dropout(dropout) if dropout_layout == "torch" else nn.Identity()
        self.ffn = nn.Sequential(nn.Linear(d_model, ffn_dim), ACTIVATIONS[activation](), inner_dropout, nn.Linear(ffn_dim, d_model))
        self.norm_attn = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm_ffn = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.drop = nn.Dropout(dropout)

    def attention(self, x: Tensor, key_mask: Tensor, need_weights: bool) -> tuple[Tensor, Tensor | None]:
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.num_heads, dim // self.num_heads).permute(2, 0, 3, 1, 4)
        allowed = key_mask.bool()[:, None, None, :]  # (B, 1, 1, L); 0/1 integer masks too
        p = self.attention_dropout if self.training else 0.0
        if need_weights or (p > 0 and self.dropout_layout == "bert"):
            scores = (q @ k.transpose(-1, -2)) / (q.shape[-1] ** 0.5)
            weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1).masked_fill(~allowed, 0.0)  # no NaN rows
            context = F.dropout(weights, p, self.training) @ v
        else:
            weights = None
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=p)
        return self.out(context.transpose(1, 2).reshape(batch, length, dim)), weights if need_weights else None

    def forward(self, x: Tensor, key_mask: Tensor, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        """Returns (B, L, D) and, when ``need_weights``, the (B, H, L, L) attention probabilities."""
        if self.norm_first:
            attended, weights = self.attention(self.norm_attn(x), key_mask, need_weights)
            x = x + self.drop(attended)
            return x + self.drop(self.ffn(self.norm_ffn(x))), weights
        attended, weights = self.attention(x, key_mask, need_weights)
        x = self.norm_attn(x + self.drop(attended))
        return self.norm_ffn(x + self.drop(self.ffn(x))), weights


class TransformerStack(nn.Module):
    """``num_layers`` :class:`TransformerLayer` s (a final LayerNorm is added when ``norm_first``)."""

    def __init__(self, num_layers: int, d_model: int, **layer_kwargs) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TransformerLayer(d_model, **layer_kwargs) for _ in range(num_layers))
        self.d_model = d_model
        norm_first = layer_kwargs.get("norm_first", False)
        eps = layer_kwargs.get("layer_norm_eps", 1e-12)
        self.final_norm = nn.LayerNorm(d_model, eps=eps) if norm_first else nn.Identity()

    def forward(self, x: Tensor, mask: Tensor, need_weights: bool = False) -> TransformerOutput:
        """x (B, L, D) with mask (B, L), True (or 1) for real tokens -> hidden (B, L, D), bool mask (B, L) and, when
        ``need_weights``, one (B, H, L, L) attention map per layer. Malformed inputs raise, naming the argument."""
        mask = check_sequence(x, mask, self.d_model, ("x", "mask"))
        attentions = []
        for layer in self.layers:
            x, weights = layer(x, mask, need_weights)
            attentions.append(weights)
        return TransformerOutput(self.final_norm(x), mask, tuple(attentions) if need_weights else None)


def full_mask(x: Tensor) -> Tensor:
    """(B, L) all-True mask for a (B, L, D) sequence without padding."""
    return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)


class TransformerSpecFields(ComponentSpec):
    """Fields shared by the TE_I and TE_M specs (``d_model: None`` is filled from ``model.d_model``); ``dropout``,
    ``attention_dropout`` (None: ``dropout``) and ``dropout_layout`` (``torch`` or ``bert``, the reference code's)
    are :class:`TransformerLayer`'s."""

    d_model: int | None = Field(None, description="token width; null: model.d_model")
    num_layers: int = Field(2, ge=0, le=MAX_LAYERS, description="number of Transformer layers")
    num_heads: int = Field(12, ge=1, description="attention heads per layer; must divide d_model")
    ffn_dim: int = Field(3072, ge=1, le=MAX_WIDTH, description="hidden width of each layer's feed-forward block")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout probability on the attention and feed-forward "
                           "outputs before each residual sum (and where dropout_layout says)")
    activation: Activation = Field("gelu", description="feed-forward activation: gelu, relu or gelu_tanh (tanh-approximated GELU)")
    norm_first: bool = Field(False, description="pre-norm: LayerNorm before each block, plus a final LayerNorm; false: "
                             "post-norm (BERT, the reference code)")
    layer_norm_eps: float = Field(1e-12, gt=0.0, description="epsilon of every LayerNorm (1e-12: BERT's)")
    dropout_layout: DropoutLayout = Field("torch", description="torch (nn.TransformerEncoderLayer: also drops inside the "
                                          "feed-forward block) or bert (BertLayer, the reference code's: same masks for the same seed)")
    attention_dropout: float | None = Field(None, ge=0.0, lt=1.0, description="dropout probability on the attention "
                                            "weights; null: dropout")

    @classmethod
    def example(cls) -> dict[str, Any]:
        return {"num_layers": 1, "num_heads": 2, "ffn_dim": 64}
