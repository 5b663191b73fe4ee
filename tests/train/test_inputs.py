"""PostDataset decodes each image once for both views; the Collator's batches are the same in a DataLoader worker."""

from __future__ import annotations

import torch
from PIL import Image
from torch.utils.data import DataLoader

from clmlf.data.formatters import SentenceFormatter
from clmlf.data.samples import Sample
from clmlf.data.views import eval_transform
from clmlf.train import inputs
from clmlf.train.inputs import Collator, PostDataset


def photo_samples(tmp_path, count: int = 3) -> list[Sample]:
    samples = []
    for index in range(count):
        path = tmp_path / f"{index}.jpg"
        Image.effect_noise((90 + 10 * index, 70), 60).convert("RGB").save(path)
        samples.append(Sample(str(index), f"post number {index}", index % 3, image_path=path, text_aug=f"post {index}"))
    return samples


def test_both_views_come_from_one_decode(tmp_path, monkeypatch):
    decoded, viewed = [], []
    load = inputs.load_image
    monkeypatch.setattr(inputs, "load_image", lambda *args: decoded.append(load(*args)) or decoded[-1])

    def view(image: Image.Image) -> torch.Tensor:
        viewed.append(image)
        return torch.zeros(3, 8, 8)

    item = PostDataset(photo_samples(tmp_path, 1), view, view, augmented=True)[0]
    assert item["pixel_values"].shape == item["pixel_values_aug"].shape == (3, 8, 8)
    assert len(decoded) == 1 and len(viewed) == 2 and all(image is decoded[0] for image in viewed)


def test_worker_batches_match_in_process_batches(tmp_path, tiny_model):
    view = eval_transform(image_size=32)
    dataset = PostDataset(photo_samples(tmp_path), view, view, augmented=True)
    collator = Collator(tiny_model.text_encoder.tokenizer(), SentenceFormatter(), 16)
    here, = DataLoader(dataset, batch_size=3, collate_fn=collator)
    worker, = DataLoader(dataset, batch_size=3, collate_fn=collator, num_workers=1)
    for key in ("pixel_values", "pixel_values_aug"):  # uint8 between processes: the image encoder normalises
        assert here[key].shape == (3, 3, 32, 32) and here[key].dtype == worker[key].dtype == torch.uint8, key
        assert here[key].is_contiguous() and worker[key].is_contiguous(), key
    for key in ("pixel_values", "pixel_values_aug", "input_ids", "aug_input_ids", "labels"):
        assert torch.equal(worker[key], here[key]), key
    assert worker["ids"] == here["ids"] == ["0", "1", "2"]
