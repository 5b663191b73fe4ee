"""The offline encoders really load the packaged pretrained weights (values pinned on fixed inputs)."""

import torch

from clmlf.encoders import efficientnet_lite0_encoder, minilm_text_encoder


def test_minilm_loads_packaged_weights():
    encoder = minilm_text_encoder(projection="none").eval()
    batch = encoder.tokenizer()(["a photo of a happy dog"], return_tensors="pt")
    assert batch["input_ids"].tolist() == [[101, 1037, 6302, 1997, 1037, 3407, 3899, 102]]
    with torch.no_grad():
        hidden = encoder(batch["input_ids"], batch["attention_mask"]).hidden
    assert hidden.shape == (1, 8, 384)
    torch.testing.assert_close(hidden[0, 0, :4], torch.tensor([0.0800, 0.2902, 0.3275, 0.3420]), atol=2e-4, rtol=0)
    torch.testing.assert_close(hidden[0, -1, :4], torch.tensor([0.0507, 0.6959, 0.0490, 0.4094]), atol=2e-4, rtol=0)


def test_efficientnet_lite0_loads_packaged_weights():
    encoder = efficientnet_lite0_encoder(d_model=1280, projection="none").eval()
    assert encoder.data_config.mean == (0.5, 0.5, 0.5) and encoder.data_config.std == (0.5, 0.5, 0.5)
    image = torch.linspace(-1, 1, 3 * 224 * 224).view(1, 3, 224, 224)
    with torch.no_grad():
        features = encoder.features(image)
    assert features.shape == (1, 1280, 7, 7)
    top = features[0].mean(dim=(1, 2)).topk(4)
    assert top.indices.tolist() == [113, 897, 455, 930]
    torch.testing.assert_close(top.values, torch.tensor([4.4990, 3.6611, 3.5336, 3.4724]), atol=2e-3, rtol=0)
    random_init = efficientnet_lite0_encoder(pretrained=False, d_model=1280, projection="none").eval()
    with torch.no_grad():
        assert not torch.allclose(random_init.features(image), features)
