"""CLMLF.forward refuses malformed inputs up front with errors that name the argument (shapes/dtypes only)."""

import pytest
import torch

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
