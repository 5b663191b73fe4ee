"""Run only some Transformer layers of a BERT-family model, through the model's own ``forward`` (so its
attention-mask handling and attention implementation apply unchanged). Used to cache the states after a frozen
bottom once and fine-tune only the layers above them."""

from __future__ import annotations

import copy

from torch import Tensor, nn


class _GivenStates(nn.Module):
    """Stands in for the embeddings when a run starts above them: returns the states it is given."""

    def forward(self, inputs_embeds: Tensor | None = None, **unused) -> Tensor:
        return inputs_embeds


def layer_range(backbone: nn.Module, start: int | None, stop: int) -> nn.Module:
    """A throw-away view of ``backbone`` (``.embeddings`` + ``.encoder.layer``) that runs layers [start, stop).

    ``start=None``: from the ids, like the backbone (embeddings, then layers [0, stop)). ``start=k``: from the states
    after layer k (0: the embeddings' output), passed as ``inputs_embeds`` (B, L, H) with ``attention_mask`` (B, L).
    Parameters and modules are shared, not copied; the view is registered nowhere (build it per call, so it follows
    the backbone's train/eval mode)."""
    layers = backbone.encoder.layer
    first = 0 if start is None else start
    if not 0 <= first <= stop <= len(layers):
        raise ValueError(f"layer range [{first}, {stop}) is outside the model's {len(layers)} layers")
    encoder = copy.copy(backbone.encoder)
    encoder._modules = {**backbone.encoder._modules, "layer": nn.ModuleList(list(layers[first:stop]))}
    view = copy.copy(backbone)
    view._modules = {**backbone._modules, "encoder": encoder}
    if start is not None:
        view._modules["embeddings"] = _GivenStates()
    return view
