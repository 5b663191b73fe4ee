"""CLMLF.forward, and each component used alone, refuse malformed inputs up front with errors that name the argument
(shapes/dtypes only)."""

import pytest
import torch

from clmlf.encoders import minilm_text_encoder, torchvision_resnet_encoder
from clmlf.encoders.projection import token_projection
from clmlf.fusion import FusionEncoder, ImageTransformerEncoder, LateFusion
from clmlf.heads import AttentionPooling, CLSPooling, MeanPooling
from conftest import tiny_batch


def wrong(**changes):
    """The tiny batch (B=2, Lt=9, 3x64x64 float32 pixels) with some inputs replaced (None: dropped)."""
    batch = {**tiny_batch(), **changes}
    return {name: value for name, value in batch.items() if value is not None}


BAD_INPUTS = {
    "pixel batch": (lambda: wrong(pixel_values=torch.randn(3, 3, 64, 64)), ValueError,
                    r"input_ids has batch 2 but pixel_values has 3"),
    "image_features batch": (lambda: wrong(image_features=torch.randn(3, 8, 2, 2)), ValueError,
                             r"input_ids has batch 2 but image_features has 3"),
    "mask shape": (lambda: wrong(attention_mask=torch.ones(2, 8, dtype=torch.long)), ValueError,
                   r"attention_mask must have the shape \(B, Lt\) = \(2, 9\) of input_ids, got \(2, 8\)"),
    "mask batch": (lambda: wrong(attention_mask=torch.ones(3, 9, dtype=torch.long)), ValueError,
                   r"attention_mask must have the shape \(B, Lt\) = \(2, 9\)"),
    "token_type_ids shape": (lambda: wrong(token_type_ids=torch.zeros(2, 7, dtype=torch.long)), ValueError,
                             r"token_type_ids must have the shape \(B, Lt\) = \(2, 9\)"),
    "ids rank": (lambda: wrong(input_ids=torch.ones(9, dtype=torch.long)), ValueError,
                 r"input_ids must be 2-D \(B, Lt\), got shape \(9,\) \(one text: input_ids\[None\]\)"),
    "ids dtype": (lambda: wrong(input_ids=torch.ones(2, 9)), TypeError,
                  r"input_ids must hold integer token ids \(torch.int64 or torch.int32\), got torch.float32"),
    "pixel rank": (lambda: wrong(pixel_values=torch.randn(3, 64, 64)), ValueError,
                   r"pixel_values must be \(B, 3, H, W\), got shape \(3, 64, 64\) \(one image"),
    "pixel channels": (lambda: wrong(pixel_values=torch.randn(2, 1, 64, 64)), ValueError,
                       r"pixel_values must be \(B, 3, H, W\), got shape \(2, 1, 64, 64\)"),
    "uint8 pixel channels": (lambda: wrong(pixel_values=torch.zeros(2, 4, 64, 64, dtype=torch.uint8)), ValueError,
                             r"pixel_values must be \(B, 3, H, W\)"),
    "pixel float64": (lambda: wrong(pixel_values=torch.randn(2, 3, 64, 64, dtype=torch.float64)), TypeError,
                      r"pixel_values are torch.float64 but the image encoder's parameters are torch.float32; "
                      r"pass pixel_values.to\(torch.float32\)"),
    "pixel int64": (lambda: wrong(pixel_values=torch.zeros(2, 3, 64, 64, dtype=torch.long)), TypeError,
                    r"pixel_values must be uint8 pixels or normalised floats, got torch.int64"),
    "too long": (lambda: wrong(input_ids=torch.ones(2, 513, dtype=torch.long), attention_mask=torch.ones(2, 513)), ValueError,
                 r"input_ids has length 513 but the text encoder has 512 positions .*model.text_encoder.max_length <= 512"),
    "text_features rank": (lambda: wrong(input_ids=None, text_features=torch.randn(2, 9)), ValueError,
                           r"text_features must be cached text backbone states \(B, Lt, H\), got shape \(2, 9\)"),
    "text_features mask": (lambda: wrong(input_ids=None, text_features=torch.randn(2, 7, 32)), ValueError,
                           r"attention_mask must have the shape \(B, Lt\) = \(2, 7\) of text_features, got \(2, 9\)"),
    "text_features batch": (lambda: wrong(input_ids=None, text_features=torch.randn(2, 9, 32), pixel_values=torch.randn(1, 3, 64, 64)),
                            ValueError, r"text_features has batch 2 but pixel_values has 1"),
    "image_features rank": (lambda: wrong(image_features=torch.randn(2, 8)), ValueError,
                            r"image_features must be a cached feature map \(B, C, h, w\) or tokens \(B, N, C\), got shape \(2, 8\)"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_inputs_get_an_error_naming_the_argument(tiny_model, case):
    make, error, message = BAD_INPUTS[case]
    with pytest.raises(error, match=message):
        tiny_model(**make())


@pytest.mark.parametrize("case", ["pixel batch", "mask shape", "ids dtype"])
def test_forward_pair_checks_each_view_before_joining_them(tiny_model, case):
    make, error, message = BAD_INPUTS[case]
    with pytest.raises(error, match=message):
        tiny_model.forward_pair(tiny_batch(), make())


def test_a_good_tiny_batch_still_runs(tiny_model):
    out = tiny_model(**tiny_batch())
    assert out.logits.shape == (2, 3) and torch.isfinite(out.logits).all()
    uint8 = tiny_model(**{**tiny_batch(), "pixel_values": torch.zeros(2, 3, 64, 64, dtype=torch.uint8)})
    assert uint8.logits.shape == (2, 3)


def test_float_pixels_of_another_dtype_pass_under_autocast(tiny_model):
    """Autocast casts the backbone's inputs itself, so bf16 pixels into a float32 model are fine there."""
    batch = {**tiny_batch(), "pixel_values": torch.randn(2, 3, 64, 64, dtype=torch.bfloat16)}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert tiny_model(**batch).logits.shape == (2, 3)


def test_text_only_model_ignores_image_inputs(tiny_spec):
    import clmlf

    data = tiny_spec.model.model_dump()
    model = clmlf.build_model({**data, "image_encoder": None, "image_transformer": None}).eval()
    assert model(**{**tiny_batch(), "pixel_values": torch.randn(5, 1, 8, 8)}).logits.shape == (2, 3)


def test_checks_trace_without_graph_breaks(tiny_model):
    """Plain Python on shapes and dtypes: torch.compile traces the checks whole (fullgraph) on a good batch."""
    torch._dynamo.reset()
    check = torch.compile(tiny_model._check_inputs, backend="eager", fullgraph=True)
    check(**tiny_batch())
    check(**{**tiny_batch(), "pixel_values": None, "image_features": torch.randn(2, 8, 2, 2)})


def components(d_model: int = 16):
    """Each sequence component alone (no spec, no CLMLF), tiny and random."""
    layer = {"d_model": d_model, "num_layers": 1, "num_heads": 2, "ffn_dim": 32}
    return {"fusion": FusionEncoder(**layer), "image_transformer": ImageTransformerEncoder(**layer),
            "late": LateFusion(d_model), "attention": AttentionPooling(d_model), "cls": CLSPooling(), "mean": MeanPooling()}


def seq(batch=2, length=5, width=16):
    return torch.randn(batch, length, width)


MASK = torch.ones(2, 5, dtype=torch.bool)
BAD_COMPONENT_INPUTS = {
    "fusion text_mask shape": ("fusion", lambda: (seq(), torch.ones(2, 6, dtype=torch.bool), seq(length=4)), ValueError,
                               r"text_mask must have the shape \(B, L\) = \(2, 5\) of text, got \(2, 6\)"),
    "fusion image batch": ("fusion", lambda: (seq(), MASK, seq(batch=3, length=4)), ValueError,
                           r"text has batch 2 but image has 3"),
    "fusion image width": ("fusion", lambda: (seq(), MASK, seq(length=4, width=17)), ValueError,
                           r"image has width D=17 but the module was built with d_model=16"),
    "fusion image rank": ("fusion", lambda: (seq(), MASK, torch.randn(2, 16)), ValueError,
                          r"image must be a token sequence \(B, L, D\), got shape \(2, 16\)"),
    "fusion image_mask shape": ("fusion", lambda: (seq(), MASK, seq(length=4), torch.ones(2, 3, dtype=torch.bool)), ValueError,
                                r"image_mask must have the shape \(B, L\) = \(2, 4\) of image, got \(2, 3\)"),
    "fusion float additive mask": ("fusion", lambda: (seq(), torch.zeros(2, 5), seq(length=4)), TypeError,
                                   r"text_mask must be bool \(True for real tokens\) or 0/1 integers, got torch.float32"),
    "TE_I feature map": ("image_transformer", lambda: (torch.randn(2, 16, 2, 2),), ValueError,
                         r"tokens must be a token sequence \(B, L, D\), got shape \(2, 16, 2, 2\)"),
    "TE_I width": ("image_transformer", lambda: (seq(width=8),), ValueError, r"tokens has width D=8 but .* d_model=16"),
    "TE_I mask shape": ("image_transformer", lambda: (seq(), torch.ones(2, 4, dtype=torch.bool)), ValueError,
                        r"mask must have the shape \(B, L\) = \(2, 5\) of tokens, got \(2, 4\)"),
    "late image batch": ("late", lambda: (seq(), MASK, seq(batch=1)), ValueError, r"text has batch 2 but image has 1"),
    "attention mask broadcast": ("attention", lambda: (seq(), MASK[:1]), ValueError,
                                 r"mask must have the shape \(B, L\) = \(2, 5\) of hidden, got \(1, 5\)"),
    "attention width": ("attention", lambda: (seq(width=8), MASK), ValueError, r"hidden has width D=8 but .* d_model=16"),
    "cls pooled vector": ("cls", lambda: (torch.randn(2, 16), MASK), ValueError,
                          r"hidden must be a token sequence \(B, L, D\), got shape \(2, 16\)"),
    "mean mask shape": ("mean", lambda: (seq(), MASK[:, :3]), ValueError, r"mask must have the shape \(B, L\) = \(2, 5\)"),
}


@pytest.mark.parametrize("case", list(BAD_COMPONENT_INPUTS))
def test_components_alone_name_the_bad_argument(case):
    name, make, error, message = BAD_COMPONENT_INPUTS[case]
    with pytest.raises(error, match=message):
        components()[name](*make())


def test_components_alone_take_bool_or_integer_masks_alike():
    """HF tokenizers give 0/1 int64 masks; every sequence component reads them as bool (TE_I used to crash in SDPA)."""
    mask = torch.ones(2, 5, dtype=torch.long)
    mask[0, 3:] = 0
    for name, module in components().items():
        module.eval()
        args = (seq(), mask, seq(length=4)) if name in ("fusion", "late") else (seq(), mask)
        torch.manual_seed(0)
        as_long = module(*args)
        torch.manual_seed(0)
        as_bool = module(*args[:1], mask.bool(), *args[2:])
        for field in ("hidden", "pooled"):
            if hasattr(as_long, field):
                torch.testing.assert_close(getattr(as_long, field), getattr(as_bool, field))


def test_text_encoder_alone_checks_like_the_model():
    """A mismatched attention_mask used to run silently (broadcast by the backbone) with a mask of the wrong shape out."""
    encoder = minilm_text_encoder(pretrained=False, d_model=16, config_overrides={
        "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64})
    ids = torch.randint(1000, 2000, (2, 7))
    for mask in (torch.ones(2, 5, dtype=torch.long), torch.ones(1, 7, dtype=torch.long)):
        with pytest.raises(ValueError, match=r"attention_mask must have the shape \(B, Lt\) = \(2, 7\) of input_ids"):
            encoder(ids, mask)
    with pytest.raises(ValueError, match=r"input_ids must be 2-D \(B, Lt\)"):
        encoder(ids[0], torch.ones(7, dtype=torch.long))
    with pytest.raises(ValueError, match=r"attention_mask must have the shape \(B, Lt\) = \(2, 7\) of text_features"):
        encoder.tokens(torch.randn(2, 7, 32), torch.ones(2, 6, dtype=torch.long))


@pytest.mark.parametrize("build, message", [
    (lambda: FusionEncoder(16, num_heads=2, activation="swish"), r"activation must be one of 'gelu', 'relu', 'gelu_tanh'; got 'swish'"),
    (lambda: token_projection(8, 8, "mlp"), r"projection must be one of 'linear_gelu', 'linear', 'none'; got 'mlp'"),
    (lambda: torchvision_resnet_encoder(depth=18, pretrained=False, token_layout="grid"),
     r"token_layout must be one of 'spatial', 'legacy_view'; got 'grid'"),
    (lambda: torchvision_resnet_encoder(depth=20, pretrained=False), r"depth must be one of 18, 34, 50, 101, 152; got 20"),
])
def test_constructor_options_are_checked_like_the_specs(build, message):
    """Unknown option strings used to raise a bare KeyError or, for projection and token_layout, fall back silently."""
    with pytest.raises(ValueError, match=message):
        build()
