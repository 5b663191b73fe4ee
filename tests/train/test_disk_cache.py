"""Cached image features and text states on disk: keyed by the weights, computed once, identical when reloaded."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from clmlf.data.formatters import SentenceFormatter
from clmlf.train.disk_cache import load_or_compute, weights_fingerprint
from clmlf.train.inputs import Collator
from clmlf.train.text_cache import encode_texts, text_bank


def test_fingerprint_follows_the_weights():
    torch.manual_seed(0)
    first, second = nn.Linear(4, 3), nn.Linear(4, 3)
    assert weights_fingerprint(first) != weights_fingerprint(second), "two random initialisations"
    before = weights_fingerprint(first)
    with torch.no_grad():
        first.weight[2, 3] += 1e-3  # outside the first values: caught by the sum
    assert weights_fingerprint(first) != before


def test_load_or_compute_computes_once_and_writes_atomically(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": torch.arange(6.0).view(2, 3)}

    path = tmp_path / "sub" / "entry.safetensors"
    first, again = load_or_compute(path, compute), load_or_compute(path, compute)
    assert len(calls) == 1 and torch.equal(first["x"], again["x"])
    assert [p.name for p in path.parent.iterdir()] == ["entry.safetensors"], "no temporary file left behind"


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "flipped_byte", "old_format"])
def test_a_damaged_cache_entry_is_named_discarded_and_rebuilt(tmp_path, caplog, damage):
    from safetensors.torch import save_file

    calls = []

    def compute():
        calls.append(1)
        return {"x": torch.arange(64.0).view(8, 8)}

    path = tmp_path / "entry.safetensors"
    load_or_compute(path, compute)
    data = path.read_bytes()
    if damage == "old_format":
        save_file(compute(), str(path))  # no key or checksum in its metadata
    else:
        damaged = {"truncated": data[: len(data) - 40], "empty": b"", "garbage": b"\x07not a safetensors file" * 9,
                   "flipped_byte": data[:-1] + bytes([data[-1] ^ 0xFF])}
        path.write_bytes(damaged[damage])
    caplog.set_level("WARNING", logger="clmlf")
    calls.clear()
    assert torch.equal(load_or_compute(path, compute)["x"], torch.arange(64.0).view(8, 8))
    assert len(calls) == 1, "rebuilt"
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1 and messages[0].startswith(f"feature cache {path}: ")
    assert messages[0].endswith("; discarded and rebuilt")
    caplog.clear()
    load_or_compute(path, compute)
    assert len(calls) == 1 and not caplog.records, "the rebuilt entry is trusted"
    assert [p.name for p in tmp_path.iterdir()] == ["entry.safetensors"]


def test_a_failed_cache_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    import errno

    import safetensors.torch

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", disk_full)
    with pytest.raises(OSError):
        load_or_compute(tmp_path / "entry.safetensors", lambda: {"x": torch.ones(2)})
    assert list(tmp_path.iterdir()) == []


def test_text_bank_reloads_the_same_states(tiny_model, tmp_path):
    from clmlf.data.samples import Sample

    encoder = tiny_model.text_encoder
    collator = Collator(encoder.tokenizer(), SentenceFormatter(), encoder.max_length)
    samples = [Sample(id=str(i), text=text, label=0, text_aug=f"{text} again") for i, text in
               enumerate(["a happy day", "rain again and again", "ok"])]
    computed = text_bank(encoder, collator, samples, torch.device("cpu"), True, tmp_path)
    reloaded = text_bank(encoder, collator, samples, torch.device("cpu"), True, tmp_path)
    direct = encode_texts(encoder, collator, [s.text for s in samples], [None] * 3, torch.device("cpu"))
    for a, b, c in zip(computed.original, reloaded.original, direct):
        assert torch.equal(a, b) and torch.equal(a, c) and a.abs().sum() > 0
    assert [t.shape[0] for t in reloaded.augmented] == [t.shape[0] for t in computed.augmented]
    assert len(list(tmp_path.glob("text-*.safetensors"))) == 2
    with torch.no_grad():
        next(encoder.backbone.parameters()).add_(1.0)
    text_bank(encoder, collator, samples, torch.device("cpu"), False, tmp_path)
    assert len(list(tmp_path.glob("text-*.safetensors"))) == 3, "changed weights: new cache entry"


def test_text_cache_follows_the_formatters_options(tiny_model, tmp_path):
    from clmlf.data.samples import Sample

    encoder = tiny_model.text_encoder
    samples = [Sample(id="0", text="a long and happy day in the sun with friends", label=0)]
    for max_length in (None, 8, None):
        collator = Collator(encoder.tokenizer(), SentenceFormatter(max_length), encoder.max_length)
        bank = text_bank(encoder, collator, samples, torch.device("cpu"), False, tmp_path)
        assert bank.original[0].shape[0] == (8 if max_length else 12)
    assert len(list(tmp_path.glob("text-*.safetensors"))) == 2, "the third call reused the first entry"


def test_image_cache_follows_a_file_replaced_in_place(tiny_model, tmp_path):
    import os

    from PIL import Image

    from clmlf.data.samples import Sample
    from clmlf.data.views import eval_transform
    from clmlf.train.feature_cache import cached_features

    path = tmp_path / "1.jpg"
    Image.new("RGB", (40, 40), (0, 0, 255)).save(path)
    samples = [Sample(id="1", text="x", label=0, image_path=path)]
    features = lambda: cached_features(tiny_model.image_encoder, {"type": "tiny"}, samples, eval_transform(64), 0,  # noqa: E731
                                       tmp_path / "cache", torch.device("cpu"))
    blue = features()
    Image.new("RGB", (40, 40), (255, 0, 0)).save(path)
    os.utime(path, ns=(1, 1))  # even a replacement with an old timestamp: the size or time differs
    red = features()
    assert not torch.equal(blue, red) and len(list((tmp_path / "cache").iterdir())) == 2
