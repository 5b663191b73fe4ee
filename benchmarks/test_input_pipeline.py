"""Input-pipeline throughput (pytest-benchmark): JPEG decode + RandAugment (both DBCL views, 224 px) + tokenisation
(bert-base-uncased vocabulary, length 64) + collation, in samples/s, per DataLoader worker count, on real
MVSA-Single images (skipped when the data root is absent). Pinned memory and a deeper prefetch queue on CUDA,
as in training. Compare ``samples_per_s`` with the train-step rate of test_train_step.py on the same machine.
"""

from __future__ import annotations

import os

import pytest
import torch
from torch.utils.data import DataLoader
from transformers import AutoTokenizer

from clmlf.data import DataError
from clmlf.data.formatters import SentenceFormatter
from clmlf.data.readers import mvsa_single
from clmlf.data.views import train_transform
from clmlf.encoders.hf_config import offline_tokenizer_dir
from clmlf.train.inputs import Collator, PostDataset

IMAGES = 512
REPEATS = 4  # every item is decoded and augmented afresh: 2048 items keep 16 workers busy past their start-up
BATCH = 64
WORKERS = sorted({0, 2, 4, 8, 16} & set(range((os.cpu_count() or 1) + 1)))


@pytest.fixture(scope="module")
def dataset() -> PostDataset:
    try:
        samples = mvsa_single(max_train=IMAGES, max_eval=1).train * REPEATS
    except DataError as error:
        pytest.skip(f"no MVSA-Single data: {error}")
    view = train_transform(num_ops=2, magnitude=14, image_size=224)
    return PostDataset(samples, view, view, augmented=True)


@pytest.mark.parametrize("workers", WORKERS)
def test_input_pipeline(benchmark, dataset, workers):
    collator = Collator(AutoTokenizer.from_pretrained(offline_tokenizer_dir("bert-base-uncased")), SentenceFormatter(), 64)
    cuda = torch.cuda.is_available()
    loader = DataLoader(dataset, batch_size=BATCH, collate_fn=collator, num_workers=workers, pin_memory=cuda,
                        persistent_workers=workers > 0, prefetch_factor=4 if workers else None)

    def run() -> int:
        return sum(batch["labels"].shape[0] for batch in loader)

    benchmark.group = f"input pipeline: {len(dataset)} samples, two 224 px RandAugment views + tokens"
    seen = benchmark.pedantic(run, rounds=2, warmup_rounds=1, iterations=1)
    assert seen == len(dataset)
    if benchmark.stats is not None:
        benchmark.extra_info.update({"kind": "input_pipeline", "workers": workers, "cpu_count": os.cpu_count(),
                                     "samples_per_s": len(dataset) / benchmark.stats.stats.median})
