import json
import time

import pytest
import torch

import clmlf
from clmlf.model import CLMLF
from conftest import REPO, TINY_CONFIG, tiny_batch


def test_tiny_config_builds_and_runs_fast():
    start = time.perf_counter()
    model = clmlf.build_model(TINY_CONFIG).eval()
    out = model(**tiny_batch(), return_attention=True)
    assert time.perf_counter() - start < 30.0, "building and running the tiny config should take a second or two"
    assert out.logits.shape == (2, 3) and out.pooled.shape == (2, 32) and out.z.shape == (2, 32)
    assert out.fused.shape[:2] == out.fused_mask.shape and out.num_text_tokens == 9
    assert len(out.attention) == 2 and out.attention[-1].shape[1] == 2
    assert (out.pooling_weights[0, 6:9] == 0).all(), "padded text tokens get no pooling weight"
    assert (out.attention[-1][0, :, :, 6:9] == 0).all(), "padded text tokens get no attention"
    assert torch.isfinite(out.logits).all() and out.logits.abs().sum() > 0


def test_padding_changes_nothing_end_to_end(tiny_model):
    batch = tiny_batch()
    longer = dict(batch)
    longer["input_ids"] = torch.cat([batch["input_ids"], torch.full((2, 4), 1234)], 1)
    longer["attention_mask"] = torch.cat([batch["attention_mask"], torch.zeros(2, 4, dtype=torch.long)], 1)
    torch.testing.assert_close(tiny_model(**longer).logits, tiny_model(**batch).logits, atol=1e-5, rtol=1e-5)


def test_augmented_view_uses_its_own_projection(tiny_model):
    batch = tiny_batch()
    original, augmented = tiny_model(**batch), tiny_model(**batch, view="augmented")
    torch.testing.assert_close(original.logits, augmented.logits)
    assert not torch.allclose(original.z, augmented.z)


def test_checkpoint_round_trip_gives_identical_logits(tiny_model, tmp_path):
    batch = tiny_batch()
    expected = tiny_model(**batch).logits
    tiny_model.save_pretrained(tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert config["versions"]["clmlf"] == clmlf.__version__ and config["spec"]["fusion"]["num_heads"] == 2
    restored = CLMLF.from_pretrained(tmp_path / "ckpt").eval()
    assert torch.equal(restored(**batch).logits, expected)


def test_from_pretrained_reports_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        CLMLF.from_pretrained(tmp_path)


def test_from_pretrained_names_a_damaged_file(tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5])
    with pytest.raises(ValueError, match=f"{weights}: cannot load the weights"):
        CLMLF.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{ torn")
    with pytest.raises(ValueError, match="config.json: not valid JSON"):
        CLMLF.from_pretrained(tmp_path)


def test_build_model_names_what_it_takes():
    with pytest.raises(TypeError, match="a preset name or a mapping; got int"):
        clmlf.build_model(42)


def test_cached_image_features_match_pixels(tiny_model):
    batch = tiny_batch()
    features = tiny_model.image_encoder.features(batch["pixel_values"])
    cached = tiny_model(batch["input_ids"], batch["attention_mask"], image_features=features)
    torch.testing.assert_close(cached.logits, tiny_model(**batch).logits)


def uint8_and_normalised(encoder, batch: int = 2, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Random uint8 pixels (B, 3, S, S) and the float32 ``(x / 255 - mean) / std`` the views used to give."""
    pixels = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8)
    mean, std = (torch.tensor(stats).view(3, 1, 1) for stats in (encoder.data_config.mean, encoder.data_config.std))
    return pixels, (pixels.float() / 255 - mean) / std


def test_uint8_pixels_match_normalised_float_pixels(tiny_model):
    pixels, normalised = uint8_and_normalised(tiny_model.image_encoder)
    inside = tiny_model.image_encoder.normalise(pixels)
    assert inside.dtype == torch.float32 and inside.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(inside, normalised)
    batch = tiny_batch()
    torch.testing.assert_close(tiny_model(**{**batch, "pixel_values": pixels}).logits,
                               tiny_model(**{**batch, "pixel_values": normalised}).logits)
    torch.testing.assert_close(tiny_model.image_encoder.features(pixels), tiny_model.image_encoder.features(normalised))


def test_pixel_statistics_are_not_in_the_state_dict(tiny_model):
    assert {"pixel_mean", "pixel_std"} <= {name.rsplit(".", 1)[-1] for name, _ in tiny_model.named_buffers()}
    assert not any(name.rsplit(".", 1)[-1] in ("pixel_mean", "pixel_std") for name in tiny_model.state_dict())


def test_pixels_of_the_wrong_shape_are_refused_by_the_image_encoder_alone(tiny_model):
    """The encoder used on its own checks like CLMLF.forward: uint8 and float pixels alike."""
    for shape in ((2, 1, 64, 64), (3, 64, 64), (2, 64, 64, 3)):
        for dtype in (torch.uint8, torch.float32):
            with pytest.raises(ValueError, match=r"pixel_values must be \(B, 3, H, W\), got shape"):
                tiny_model.image_encoder(torch.zeros(shape, dtype=dtype))
    with pytest.raises(TypeError, match=r"pixel_values are torch.float64 but the image encoder's parameters are torch.float32"):
        tiny_model.image_encoder(torch.zeros(2, 3, 64, 64, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"image_features must be a cached feature map \(B, C, h, w\) or tokens"):
        tiny_model.image_encoder.tokens(torch.zeros(2, 8))


def test_forward_pair_of_uint8_views_matches_two_calls_and_never_mixes_dtypes(tiny_model):
    """uint8 views share one pass (normalised in the model's dtype, here fp64); a uint8 and a float view are not
    concatenated (that would promote raw pixels to floats) but run as two calls."""
    model = tiny_model.double().eval()
    pixels, normalised = uint8_and_normalised(model.image_encoder)
    original = {**tiny_batch(), "pixel_values": pixels}
    for augmented in ({**original, "pixel_values": pixels.flip(-1)}, {**original, "pixel_values": normalised.double()}):
        pair = model.forward_pair(original, augmented)
        separate = model(**original), model(**augmented, view="augmented")
        for joint, alone in zip(pair, separate):
            torch.testing.assert_close(joint.z, alone.z, rtol=1e-10, atol=1e-12)


def test_text_only_and_no_fusion_variants(tiny_spec):
    data = tiny_spec.model.model_dump()
    text_only = clmlf.build_model({**data, "image_encoder": None, "image_transformer": None}).eval()
    batch = tiny_batch()
    assert text_only(batch["input_ids"], batch["attention_mask"]).fused.shape[1] == 9
    no_fusion = clmlf.build_model({**data, "fusion": None}).eval()
    assert no_fusion(**batch).logits.shape == (2, 3)
    with pytest.raises(ValueError, match="pass pixel_values"):
        clmlf.build_model(data)(batch["input_ids"], batch["attention_mask"])


def test_components_compose_without_specs():
    from clmlf.fusion import FusionEncoder
    from clmlf.heads import AttentionPooling, MLPClassifier

    fusion, pooler, head = FusionEncoder(16, num_layers=1, num_heads=2, ffn_dim=32), AttentionPooling(16), MLPClassifier(16, 2)
    fused = fusion(torch.randn(3, 5, 16), torch.ones(3, 5, dtype=torch.bool), torch.randn(3, 4, 16))
    assert head(pooler(fused.hidden, fused.mask).pooled).shape == (3, 2)


@pytest.mark.slow
def test_paper_size_config_builds_and_runs_on_cpu():
    overrides = ["model.text_encoder.pretrained=false", "model.image_encoder.pretrained=false"]
    model = clmlf.build_model(clmlf.load_spec(REPO / "configs" / "mvsa_single.yaml", overrides)).eval()
    params = sum(p.numel() for p in model.parameters())
    assert 165e6 < params < 190e6, params  # BERT-base 109M + ResNet-50 23.5M + 5 Transformer layers 35M + heads
    with torch.no_grad():
        out = model(**tiny_batch(batch=1, length=12, image=224, pad=0))
    assert out.fused.shape == (1, 12 + 50, 768) and out.logits.shape == (1, 3)


def test_cached_text_features_match_ids(tiny_model):
    batch = tiny_batch()
    states = tiny_model.text_encoder.features(batch["input_ids"], batch["attention_mask"])
    cached = tiny_model(attention_mask=batch["attention_mask"], text_features=states, pixel_values=batch["pixel_values"])
    torch.testing.assert_close(cached.logits, tiny_model(**batch).logits)
    with pytest.raises(ValueError, match="exactly one of input_ids or cached text_features"):
        tiny_model(batch["input_ids"], batch["attention_mask"], batch["pixel_values"], text_features=states)


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_cached_text_states_after_any_layer_match_ids(tiny_model, depth):
    """States cached after the first ``depth`` backbone layers, finished by the model, == tokens in, in fp64;
    gradients reach exactly the layers above ``depth``."""
    model = tiny_model.double()
    batch = {k: v.double() if v.is_floating_point() else v for k, v in tiny_batch().items()}
    states = model.text_encoder.features(batch["input_ids"], batch["attention_mask"], depth=depth).detach()
    assert states.abs().sum() > 0
    cached = model(attention_mask=batch["attention_mask"], text_features=states, pixel_values=batch["pixel_values"], text_depth=depth)
    torch.testing.assert_close(cached.logits, model(**batch).logits, rtol=1e-10, atol=1e-10)
    cached.logits.square().sum().backward()
    layers = model.text_encoder.backbone.encoder.layer
    assert [layer.output.dense.weight.grad is not None for layer in layers] == [index >= depth for index in range(len(layers))]
    assert model.text_encoder.backbone.embeddings.word_embeddings.weight.grad is None


def test_layer_range_rejects_layers_the_model_lacks(tiny_model):
    from clmlf.encoders.layer_range import layer_range

    with pytest.raises(ValueError, match=r"layer range \[1, 3\) is outside the model's 2 layers"):
        layer_range(tiny_model.text_encoder.backbone, 1, 3)


def test_forward_pair_with_cached_text_states_after_a_layer(tiny_model):
    """Both views as states after layer 1 (``text_depth``, a non-tensor input) in one pass == two calls."""
    model = tiny_model.double()
    batch = {k: v.double() if v.is_floating_point() else v for k, v in tiny_batch().items()}
    features = model.text_encoder.features(batch["input_ids"], batch["attention_mask"], depth=1)
    original = {"text_features": features, "attention_mask": batch["attention_mask"], "pixel_values": batch["pixel_values"], "text_depth": 1}
    augmented = {**original, "text_features": features[:, :6].flip(0), "attention_mask": batch["attention_mask"][:, :6].flip(0)}
    pair = model.forward_pair(original, augmented)
    separate = model(**original), model(**augmented, view="augmented")
    for joint, alone in zip(pair, separate):
        torch.testing.assert_close(joint.z, alone.z, rtol=1e-10, atol=1e-10)


def test_forward_pair_matches_two_separate_calls(tiny_model):
    """One pass over both views (texts of different lengths, padded jointly) == two forward calls, in fp64."""
    model = tiny_model.double().eval()
    original = {k: v.double() if v.is_floating_point() else v for k, v in tiny_batch().items()}
    augmented = {"input_ids": original["input_ids"][:, :7].flip(0), "attention_mask": original["attention_mask"][:, :7].flip(0),
                 "pixel_values": original["pixel_values"].flip(-1)}
    pair = model.forward_pair(original, augmented)
    separate = model(**original), model(**augmented, view="augmented")
    for joint, alone in zip(pair, separate):
        torch.testing.assert_close(joint.logits, alone.logits, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(joint.z, alone.z, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(pair[0].z, pair[1].z)


def test_forward_pair_falls_back_to_two_calls_for_images_of_different_sizes(tiny_model):
    model = tiny_model.eval()
    original = tiny_batch()
    augmented = {**tiny_batch(), "pixel_values": torch.randn(2, 3, 96, 96)}
    pair = model.forward_pair(original, augmented)
    torch.testing.assert_close(pair[1].z, model(**augmented, view="augmented").z)
    torch.testing.assert_close(pair[0].logits, model(**original).logits)


def test_compile_parts_changes_no_output_and_no_parameter_name(tiny_model):
    batch = tiny_batch()
    names = [name for name, _ in tiny_model.named_parameters()]
    expected = tiny_model(**batch).logits
    torch._dynamo.reset()
    tiny_model.compile_parts(backend="eager")
    compiled = [m for m in tiny_model.modules() if m._compiled_call_impl is not None]
    assert len(compiled) == len(tiny_model.text_encoder.backbone.encoder.layer) + 3  # text layers, image backbone, TE_I, TE_M
    torch.testing.assert_close(tiny_model(**batch).logits, expected)
    assert [name for name, _ in tiny_model.named_parameters()] == names


def test_a_misspelt_config_override_is_refused():
    spec = clmlf.load_spec(TINY_CONFIG, ["model.text_encoder.config_overrides.hidden_sise=8"])
    with pytest.raises(ValueError, match="BertConfig has no field 'hidden_sise' \\(did you mean 'hidden_size'\\?\\)"):
        clmlf.build_model(spec)


def test_constructor_settings_are_valid_config_overrides():
    spec = clmlf.load_spec(TINY_CONFIG, ["model.text_encoder.config_overrides.attn_implementation=eager"])
    assert clmlf.build_model(spec).text_encoder.backbone.config._attn_implementation == "eager"
