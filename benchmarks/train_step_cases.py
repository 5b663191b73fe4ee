"""Train-step cases: one optimizer step (both DBCL views, fwd + bwd + AdamW) of a CLMLF model, taken two ways.

- ``reference``: what the reference code does — fp32, math (eager) attention, NCHW images, each view its own
  forward pass, LBCL with the reference code's per-anchor index loop, DBCL ``clmlf`` as a direct N×N softmax,
  AdamW with torch's default (foreach) kernel.
- ``ours``: the library's training path — bf16 autocast, SDPA attention, channels-last images, both views in one
  pass (:meth:`CLMLF.forward_pair`), the fused losses (``impl="auto"``: Triton on CUDA), fused AdamW on CUDA.
  ``ours+compile`` adds ``torch.compile`` of the heavy parts (:meth:`CLMLF.compile_parts`, as ``train.compile``);
  ``ours+cudagraphs`` compiles them with ``mode="reduce-overhead"`` (CUDA graphs: no per-kernel launch cost, what
  a batch too small to keep the GPU busy from Python needs; ``train.compile_options: {mode: reduce-overhead}``).

Sizes: ``full`` = bert-base (random init) + ResNet-50 (frozen, as in the paper), image Transformer 2 layers,
fusion 3 layers, d = 768, text length 64, 224 px; ``tiny`` = configs/tiny.yaml's model (CPU smoke / CI).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch
from loss_cases import clmlf_repo_lbcl
from torch.nn.attention import SDPBackend, sdpa_kernel

from clmlf.losses import CLMLFLoss, dbcl
from clmlf.model import CLMLF
from clmlf.spec import TrainSpec, load_spec
from clmlf.train.optim import build_optimizer

REPO = Path(__file__).resolve().parents[1]
FULL_MODEL = {
    "d_model": 768,
    "num_classes": 3,
    "text_encoder": {"type": "hf", "model_name": "bert-base-uncased", "pretrained": False, "max_length": 64},
    "image_encoder": {"type": "torchvision_resnet", "depth": 50, "pretrained": False},
    "image_transformer": {"type": "transformer", "num_layers": 2, "num_heads": 12, "ffn_dim": 3072},
    "fusion": {"type": "transformer", "num_layers": 3, "num_heads": 12, "ffn_dim": 3072},
    "pooler": {"type": "attention"},
    "head": {"type": "mlp"},
    "projection": {"type": "mlp"},
    "augmented_projection": {"type": "mlp"},
}
IMAGE_SIZE = {"full": 224, "tiny": 64}
TEXT_LENGTH = {"full": 64, "tiny": 24}


@dataclass(frozen=True)
class StepCase:
    size: str  # "full" | "tiny"
    path: str  # "reference" | "ours" | "ours+compile" | "ours+cudagraphs"
    batch: int
    device: str = "cuda"

    @property
    def id(self) -> str:
        return f"{self.device}-{self.size}-{self.path}-B{self.batch}"


def build_model(case: StepCase) -> CLMLF:
    overrides = [f"model.image_encoder.channels_last={case.path != 'reference'}"]
    spec = load_spec({"name": "bench", "model": FULL_MODEL} if case.size == "full" else REPO / "configs" / "tiny.yaml", overrides)
    model = CLMLF.from_spec(spec.model).to(case.device).train()
    if case.path.startswith("ours+"):
        model.compile_parts(**({"mode": "reduce-overhead"} if case.path == "ours+cudagraphs" else {}))
    return model


def random_views(case: StepCase, vocab_size: int) -> tuple[dict, dict, torch.Tensor]:
    """Two views of ``case.batch`` samples: random token ids (B, L) with full masks, uint8 pixels (B, 3, S, S) as the
    loader gives them (the image encoder normalises); labels (B,)."""
    g = torch.Generator(device=case.device).manual_seed(0)
    length, size = TEXT_LENGTH[case.size], IMAGE_SIZE[case.size]

    def view() -> dict:
        ids = torch.randint(1000, vocab_size, (case.batch, length), generator=g, device=case.device)
        pixels = torch.randint(0, 256, (case.batch, 3, size, size), generator=g, device=case.device, dtype=torch.uint8)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "pixel_values": pixels}

    return view(), view(), torch.randint(0, 3, (case.batch,), generator=g, device=case.device)


def reference_losses(logits, labels, z, z_aug) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits, labels) + clmlf_repo_lbcl(z, labels) + dbcl(z, z_aug, 0.07, "clmlf", "reference")


def make_step(case: StepCase):
    """A closure taking one optimizer step on fixed random inputs; returns the loss tensor."""
    model = build_model(case)
    optimizer = build_optimizer(model, TrainSpec(lr=2e-5)) if case.path != "reference" else torch.optim.AdamW(model.parameters(), lr=2e-5)
    original, augmented, labels = random_views(case, model.text_encoder.backbone.config.vocab_size)
    attention = (lambda: sdpa_kernel([SDPBackend.MATH])) if case.path == "reference" else contextlib.nullcontext
    criterion = CLMLFLoss()
    bf16 = case.path != "reference" and case.device == "cuda"

    def step() -> torch.Tensor:
        with attention(), torch.autocast(case.device, torch.bfloat16, enabled=bf16):
            if case.path == "reference":
                out, out_aug = model(**original), model(**augmented, view="augmented")
                loss = reference_losses(out.logits.float(), labels, out.z.float(), out_aug.z.float())
            else:
                out, out_aug = model.forward_pair(original, augmented)
                loss = criterion(out.logits.float(), labels, out.z, out_aug.z).total
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    return step
