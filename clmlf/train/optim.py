"""AdamW parameter groups (encoders vs fusion learning rates, no decay on norms/biases) and LR schedules."""

from __future__ import annotations

import math

import torch
from torch import nn

from clmlf.spec import TrainSpec


def is_no_decay(name: str, parameter: nn.Parameter) -> bool:
    """Biases, norm weights and other 1-d parameters (and learned embeddings of ours) skip weight decay."""
    return parameter.ndim <= 1 or name.endswith((".position", ".modality"))


def parameter_groups(model: nn.Module, train: TrainSpec) -> list[dict]:
    """Groups keyed by (part, decay): ``text`` = the text backbone, ``image`` = the image backbone, ``rest``."""
    rates = {
        "text": train.lr if train.text_encoder_lr is None else train.text_encoder_lr,
        "image": train.lr if train.image_encoder_lr is None else train.image_encoder_lr,
        "rest": train.lr,
    }
    groups: dict[tuple[str, bool], list[nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        part = "text" if name.startswith("text_encoder.backbone.") else "image" if name.startswith("image_encoder.backbone.") else "rest"
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


def set_text_encoder_trainable(model: nn.Module, trainable: bool) -> None:
    """Two-stage schedule (reference code): the text backbone is frozen for the first ``text_freeze_epochs``.
    Parameters frozen by the encoder's own ``freeze`` / ``freeze_layers`` options stay frozen."""
    for parameter in model.text_encoder.backbone.parameters():
        if not getattr(parameter, "_clmlf_frozen", False):
            parameter.requires_grad_(trainable)
