"""Run only some Transformer layers of a Hugging Face encoder, through the model's own ``forward`` (so its
attention-mask handling and attention implementation apply unchanged). Used to cache the states after a frozen
bottom once and fine-tune only the layers above them.

Works for the families that keep their layers in one ``nn.ModuleList`` (:data:`LAYER_STACKS`: BERT, RoBERTa,
XLM-RoBERTa, ELECTRA, DeBERTa-v2/v3, MPNet under ``encoder.layer``; DistilBERT under ``transformer.layer``).
ALBERT shares one layer's weights across its depth and has no such list: :func:`layer_stack` is None for it, and the
encoder then offers no bottom freeze and no prefix cache."""

from __future__ import annotations

import copy

from torch import Tensor, nn

LAYER_STACKS = (("encoder", "layer"), ("transformer", "layer"))
"""(child, attribute) where a family keeps its ``nn.ModuleList`` of Transformer layers."""
EMBEDDING_PROJECTIONS = ("embeddings_project",)
"""Modules between the embeddings and the first layer (ELECTRA's embedding_size -> hidden_size)."""


def layer_stack(backbone: nn.Module) -> tuple[str, str] | None:
    """(child, attribute) of ``backbone``'s layer list, or None for a family without one (ALBERT)."""
    for child, attribute in LAYER_STACKS:
        if isinstance(getattr(getattr(backbone, child, None), attribute, None), nn.ModuleList):
            return child, attribute
    return None


def layers_of(backbone: nn.Module) -> nn.ModuleList:
    """The backbone's Transformer layers; ValueError naming the class for a family without a layer list."""
    where = layer_stack(backbone)
    if where is None:
        raise ValueError(f"{type(backbone).__name__} keeps no list of separate layers (ALBERT shares one layer across "
                         "its depth): layer ranges, freeze_layers and the prefix text cache need one")
    return getattr(getattr(backbone, where[0]), where[1])


class _GivenStates(nn.Module):
    """Stands in for the embeddings when a run starts above them: returns the states it is given (``inputs_embeds``,
    by keyword or, as DistilBERT passes it, as the one floating-point positional argument)."""

    def forward(self, *args, inputs_embeds: Tensor | None = None, **unused) -> Tensor:
        if inputs_embeds is not None:
            return inputs_embeds
        return next(arg for arg in args if isinstance(arg, Tensor) and arg.is_floating_point())


def layer_range(backbone: nn.Module, start: int | None, stop: int) -> nn.Module:
    """A throw-away view of ``backbone`` (``.embeddings`` + its layer list) that runs layers [start, stop).

    ``start=None``: from the ids, like the backbone (embeddings, then layers [0, stop)). ``start=k``: from the states
    after layer k (0: the embeddings' output, after any embedding projection), passed as ``inputs_embeds``
    (B, L, H) with ``attention_mask`` (B, L). Parameters and modules are shared, not copied; the view is registered
    nowhere (build it per call, so it follows the backbone's train/eval mode)."""
    layers = layers_of(backbone)
    child, attribute = layer_stack(backbone)
    first = 0 if start is None else start
    if not 0 <= first <= stop <= len(layers):
        raise ValueError(f"layer range [{first}, {stop}) is outside the model's {len(layers)} layers")
    owner = getattr(backbone, child)
    stack = copy.copy(owner)
    stack._modules = {**owner._modules, attribute: nn.ModuleList(list(layers[first:stop]))}
    view = copy.copy(backbone)
    view._modules = {**backbone._modules, child: stack}
    if start is not None:
        view._modules["embeddings"] = _GivenStates()
        for name in EMBEDDING_PROJECTIONS:
            if name in view._modules:
                view._modules[name] = nn.Identity()
    return view
