"""One contract test over every registered built-in component (timm's test_models.py style):
shapes, masks honoured (padding changes nothing), finite outputs, spec round trip."""

from __future__ import annotations

import json

import pytest
import torch

import clmlf
from clmlf.encoders.text_offline import minilm_dir
from clmlf.registry import registry

TINY_BERT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
D = 32
LAYER = {"d_model": D, "num_layers": 2, "num_heads": 4, "ffn_dim": 64, "dropout": 0.0}

# (kind, name) -> tiny spec fields. Every built-in component must have an entry (enforced below).
TINY_SPECS: dict[tuple[str, str], dict] = {
    ("text_encoder", "hf"): {"model_name": minilm_dir(), "pretrained": False, "config_overrides": TINY_BERT, "d_model": D},
    ("text_encoder", "minilm"): {"pretrained": False, "config_overrides": TINY_BERT, "d_model": D},
    ("image_encoder", "timm"): {"model_name": "test_efficientnet", "pretrained": False, "d_model": D},
    ("image_encoder", "torchvision_resnet"): {"depth": 18, "pretrained": False, "d_model": D},
    ("image_encoder", "efficientnet_lite0"): {"pretrained": False, "d_model": D},
    ("image_transformer", "transformer"): LAYER,
    ("fusion", "transformer"): LAYER,
    ("fusion", "late"): {"d_model": D},
    ("pooler", "attention"): {"d_model": D},
    ("pooler", "cls"): {},
    ("pooler", "mean"): {},
    ("head", "mlp"): {"d_model": D, "num_classes": 3},
    ("projection", "mlp"): {"d_model": D, "out_dim": 16},
    ("formatter", "sentence"): {},
    ("formatter", "aspect"): {},
    ("loss", "lbcl"): {"impl": "chunked"},
    ("loss", "dbcl"): {"impl": "chunked"},
    ("loss", "cross_entropy"): {},
    ("augmentation", "none"): {"image_size": 48},
    ("augmentation", "randaugment"): {"image_size": 48},
    **{("dataset", name): {"max_train": 12, "max_eval": 6} for name in ("mvsa_single", "mvsa_multiple", "hfm", "twitter2015", "twitter2017")},
    ("dataset", "jsonl"): {"train": "train.jsonl", "dev": "dev.jsonl", "test": "test.jsonl", "max_train": 12, "max_eval": 6},
}


def builtin_components() -> list[tuple[str, str]]:
    reg = registry()
    return [(kind, name) for kind in reg.kinds() for name in reg.names(kind) if reg.entry(kind, name).module.startswith("clmlf.")]


CHECKED_KINDS = {kind for kind, _ in TINY_SPECS}


def test_every_builtin_component_has_a_contract_entry():
    missing = [pair for pair in builtin_components() if pair[0] in CHECKED_KINDS and pair not in TINY_SPECS]
    assert not missing, f"add tiny specs for {missing}"


def padded_pair(batch=2, length=6, extra=3):
    """Same real tokens twice: once with ``extra`` more padding positions holding garbage."""
    hidden = torch.randn(batch, length, D)
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask[0, 4:] = False
    longer = torch.cat([hidden, 100 * torch.randn(batch, extra, D)], 1)
    longer[0, 4:length] = -50.0
    long_mask = torch.cat([mask, torch.zeros(batch, extra, dtype=torch.bool)], 1)
    return (hidden, mask), (longer, long_mask)


def check_text_encoder(module):
    ids = torch.randint(1000, 2000, (2, 7))
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[0, 5:] = 0
    out = module(ids, mask)
    assert out.hidden.shape == (2, 7, D) and out.mask.dtype == torch.bool and out.pooled.shape == (2, D)
    more_ids = torch.cat([ids, torch.randint(3000, 4000, (2, 3))], 1)
    more_mask = torch.cat([mask, torch.zeros(2, 3, dtype=torch.long)], 1)
    longer = module(more_ids, more_mask)
    torch.testing.assert_close(longer.hidden[0, :5], out.hidden[0, :5], atol=1e-5, rtol=1e-5)
    return out.hidden


def check_image_encoder(module):
    out = module(torch.randn(2, 3, 64, 64))
    assert out.hidden.shape[0] == 2 and out.hidden.shape[2] == D and out.mask.all() and out.pooled.shape == (2, D)
    assert module(torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)).hidden.shape == out.hidden.shape, "views give uint8"
    module.train()
    assert not any(p.requires_grad for p in module.backbone.parameters()), "image encoders default to frozen"
    assert not any(m.training for m in module.backbone.modules()), "BatchNorm stays in eval when frozen"
    return out.hidden


def check_sequence_module(module):
    (hidden, mask), (longer, long_mask) = padded_pair()
    out = module(hidden, mask)
    out_long = module(longer, long_mask)
    assert out.hidden.shape == hidden.shape
    torch.testing.assert_close(out_long.hidden[0, :4], out.hidden[0, :4], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out_long.hidden[1, :6], out.hidden[1, :6], atol=1e-5, rtol=1e-5)
    return out.hidden


def check_fusion(module):
    """Token-level fusion keeps all Lt + Li positions; summarising fusion (late) returns one vector. Either way the
    outputs at real positions ignore text padding."""
    (text, text_mask), (long_text, long_mask) = padded_pair()
    image = torch.randn(2, 5, D)
    out = module(text, text_mask, image)
    out_long = module(long_text, long_mask, image)
    assert out.hidden.shape in ((2, 11, D), (2, 1, D)) and out.mask.shape == out.hidden.shape[:2]
    for row in range(2):
        torch.testing.assert_close(out_long.hidden[row][out_long.mask[row]], out.hidden[row][out.mask[row]], atol=1e-5, rtol=1e-5)
    return out.hidden


def check_pooler(module):
    (hidden, mask), (longer, long_mask) = padded_pair()
    out = module(hidden, mask)
    out_long = module(longer, long_mask)
    assert out.pooled.shape[0] == 2
    torch.testing.assert_close(out_long.pooled, out.pooled, atol=1e-5, rtol=1e-5)
    if out.weights is not None:
        assert (out.weights[0, 4:] == 0).all()
        torch.testing.assert_close(out.weights.sum(1), torch.ones(2))
    return out.pooled


def check_vector_module(module):
    out = module(torch.randn(4, D))
    assert out.shape[0] == 4 and out.dim() == 2
    return out


def check_formatter(formatter):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    batch = formatter(tokenizer, ["a good day", "bad"], ["day", "x"], max_length=16)
    assert batch["input_ids"].shape == batch["attention_mask"].shape and batch["input_ids"].shape[0] == 2
    return batch["input_ids"].float()


def check_loss(loss):
    z, z_aug, labels = torch.randn(8, D), torch.randn(8, D), torch.tensor([0, 1, 2, 0, 1, 2, 0, 0])
    if loss.__class__.__name__ == "CrossEntropyLoss":
        value = loss(torch.randn(8, 3), labels)
    else:
        value = loss(z, labels) if loss.__class__.__name__ == "LBCLLoss" else loss(z, z_aug)
    assert value.dim() == 0
    return value.reshape(1)


def check_augmentation(transform):
    from PIL import Image

    view = transform(Image.new("RGB", (90, 70), (200, 30, 30)))
    assert view.shape == (3, 48, 48) and view.dtype == torch.uint8
    return view


def check_dataset(splits):
    info = splits.info()
    assert (info["train"], info["dev"], info["test"]) == (12, 6, 6)
    assert len(info["classes"]) == splits.num_classes and all(s.text for s in splits.train)
    return torch.tensor([s.label for s in splits.train], dtype=torch.float32) + 1


def write_jsonl_posts(folder) -> str:
    """Text-only posts for the ``jsonl`` dataset: 20 train, 10 dev, 10 test, cycling through three labels."""
    for split, count in (("train", 20), ("dev", 10), ("test", 10)):
        lines = [json.dumps({"text": f"{split} post {index}", "label": ("negative", "neutral", "positive")[index % 3]})
                 for index in range(count)]
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return str(folder)


def data_available() -> bool:
    from clmlf.data.root import locate_data_root

    try:
        locate_data_root()
        return True
    except Exception:
        return False


CHECKS = {
    "text_encoder": check_text_encoder,
    "image_encoder": check_image_encoder,
    "image_transformer": check_sequence_module,
    "fusion": check_fusion,
    "pooler": check_pooler,
    "head": check_vector_module,
    "projection": check_vector_module,
    "formatter": check_formatter,
    "loss": check_loss,
    "augmentation": check_augmentation,
    "dataset": check_dataset,
}


@pytest.mark.parametrize(("kind", "name"), sorted(TINY_SPECS), ids=lambda value: str(value))
def test_component_contract(kind, name, tmp_path):
    fields = dict(TINY_SPECS[(kind, name)])
    if (kind, name) == ("dataset", "jsonl"):
        fields["root"] = write_jsonl_posts(tmp_path)
    elif kind == "dataset" and not data_available():
        pytest.skip("real data (../shared/data) absent")
    spec_class = registry().entry(kind, name).spec
    spec = spec_class.model_validate({"type": name, **fields})
    assert spec_class.model_validate(spec.model_dump(mode="json")) == spec, "spec round trip"
    component = spec.build()
    if isinstance(component, torch.nn.Module):
        component.eval()
    with torch.no_grad():
        output = CHECKS[kind](component)
    assert torch.isfinite(output).all()
    assert output.float().abs().sum() > 0
