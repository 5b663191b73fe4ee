"""AdamW parameter groups (encoders vs fusion learning rates, no decay on norms/biases) and LR schedules."""

from __future__ import annotations

import math

import torch
from torch import nn

from clmlf.contracts import trainable_part
from clmlf.spec import TrainSpec


def is_no_decay(name: str, parameter: nn.Parameter) -> bool:
    """Biases, norm weights and other 1-d parameters (and learned embeddings of ours) skip weight decay."""
    return parameter.ndim <= 1 or name.endswith((".position", ".modality"))


def encoder_parts(model: nn.Module) -> dict[int, str]:
    """``id(parameter) -> "text" | "image"`` for the parameters of each encoder's trainable part (its ``backbone``,
    else the whole encoder: :func:`clmlf.contracts.trainable_part`)."""
    encoders = {"text": model.text_encoder, "image": model.image_encoder}
    return {id(parameter): part for part, encoder in encoders.items() if encoder is not None
            for parameter in trainable_part(encoder).parameters()}


def parameter_groups(model: nn.Module, train: TrainSpec) -> list[dict]:
    """Groups keyed by (part, decay): ``text`` = the text encoder's trainable part, ``image`` = the image encoder's,
    ``rest``."""
    rates = {
        "text": train.lr if train.text_encoder_lr is None else train.text_encoder_lr,
        "image": train.lr if train.image_encoder_lr is None else train.image_encoder_lr,
        "rest": train.lr,
    }
    parts = encoder_parts(model)
    groups: dict[tuple[str, bool], list[nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        part = parts.get(id(parameter), "rest")
        decay = train.decay_norm_and_bias or not is_no_decay(name, parameter)
        groups.setdefault((part, decay), []).append(parameter)
    return [
        {"params": params, "lr": rates[part], "weight_decay": train.weight_decay if decay else 0.0, "name": f"{part}/{'decay' if decay else 'no_decay'}"}
        for (part, decay), params in sorted(groups.items())
    ]


def build_optimizer(model: nn.Module, train: TrainSpec) -> torch.optim.AdamW:
    """AdamW over :func:`parameter_groups`; the fused CUDA kernel when every parameter is on the GPU."""
    fused = all(parameter.is_cuda for parameter in model.parameters())
    return torch.optim.AdamW(parameter_groups(model, train), betas=train.betas, eps=train.eps, fused=fused or None)


def schedule_factor(step: int, total: int, train: TrainSpec) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` of ``total`` (warmup, then the schedule)."""
    warmup = int(train.warmup_ratio * total)
    if step < warmup:
        return (step + 1) / warmup
    if train.schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(total - warmup, 1)
    return max(0.0, 1.0 - progress) if train.schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def build_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, train: TrainSpec) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: schedule_factor(step, total_steps, train))


SCHEDULE_FROZEN = "_clmlf_schedule_frozen"
"""Marks the parameters the two-stage schedule froze (the only ones it unfreezes)."""


def set_text_encoder_trainable(model: nn.Module, trainable: bool) -> None:
    """Two-stage schedule (reference code): the text encoder's trainable part (its ``backbone``, else the whole
    encoder) is frozen for the first ``text_freeze_epochs``. Parameters the encoder froze itself (``freeze`` /
    ``freeze_layers``, or a plugin's own ``requires_grad_(False)``) are never touched: unfreezing only undoes what the
    schedule froze."""
    for parameter in trainable_part(model.text_encoder).parameters():
        if trainable and getattr(parameter, SCHEDULE_FROZEN, False):
            parameter.requires_grad_(True)
            delattr(parameter, SCHEDULE_FROZEN)
        elif not trainable and parameter.requires_grad:
            parameter.requires_grad_(False)
            setattr(parameter, SCHEDULE_FROZEN, True)
