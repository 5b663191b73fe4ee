"""What build_inputs checks before any batch is made: the formatter fits the data, the text encoder can tokenise."""

from __future__ import annotations

from typing import Literal

import pytest
from torch import nn

from clmlf.cli import main
from clmlf.data.formatters import AspectFormatter, SentenceFormatter
from clmlf.data.samples import DatasetSplits, Sample
from clmlf.errors import ContractError, SpecError
from clmlf.registry import Entry, registry
from clmlf.spec import ComponentSpec
from clmlf.train.pipeline import build_splits, check_formatter, text_tokenizer


def splits(aspect: str | None) -> DatasetSplits:
    samples = [Sample(id=f"p{i}", text="good", label=0, aspect=aspect if i else "food") for i in range(3)]
    return DatasetSplits(name="posts", label_names=("positive",), train=samples, dev=samples, test=samples,
                         has_images=False, metric="weighted")


def test_an_aspect_formatter_needs_aspect_data():
    check_formatter(AspectFormatter(), splits("service"), ("train", "dev", "test"))
    check_formatter(SentenceFormatter(), splits(None), ("train",))
    with pytest.raises(SpecError, match="posts/train sample 'p1' has no aspect"):
        check_formatter(AspectFormatter(), splits(None), ("train",))


def test_a_text_encoder_without_a_tokenizer_is_named(tiny_model):
    assert text_tokenizer(tiny_model)("good day")["input_ids"]
    tiny_model.text_encoder = nn.Identity()
    with pytest.raises(ContractError, match=r"text_encoder 'minilm' \(Identity from torch.nn.modules.linear\): lacks tokenizer "
                                            r"and max_length .*docs/components.md#text_encoder"):
        text_tokenizer(tiny_model)


class ToyDatasetSpec(ComponentSpec):
    type: Literal["toy_demo"] = "toy_demo"
    size: int


def test_a_plugin_dataset_gets_named_errors(monkeypatch, capsys):
    datasets = registry()._entries["dataset"]
    ToyDatasetSpec.component_kind = "dataset"
    monkeypatch.setitem(datasets, "toy_demo", Entry("dataset", "toy_demo", lambda size: "not splits", ToyDatasetSpec))
    spec = ToyDatasetSpec(size=2)
    with pytest.raises(SpecError, match="data.root: dataset 'toy_demo' has no root field"):
        build_splits(spec, "/data")
    with pytest.raises(ContractError, match="dataset 'toy_demo' .*: returned a str; it must return clmlf.data.samples.DatasetSplits"):
        build_splits(spec)
    assert main(["dataset-info", "toy_demo"]) == 2
    assert "size: field required" in capsys.readouterr().err.lower()


def test_a_split_without_samples_is_named(monkeypatch, tiny_spec):
    import clmlf.train.pipeline as pipeline
    from clmlf.data.errors import DataError

    empty_test = DatasetSplits(name="posts", label_names=("positive",), train=splits("x").train, dev=splits("x").dev, test=[],
                               has_images=True, metric="weighted")
    monkeypatch.setattr(pipeline, "build_splits", lambda dataset, root=None: empty_test)
    with pytest.raises(DataError, match=r"posts \(6 samples\): 1 problem\n  - test: the split has no samples"):
        pipeline.load_splits(tiny_spec.data)


def test_bad_images_of_every_split_come_in_one_error(monkeypatch, tiny_spec, tmp_path):
    """Both unusable images and the empty split are listed together, each with its split (not one split at a time)."""
    import clmlf.train.pipeline as pipeline
    from clmlf.data.errors import DataError

    (tmp_path / "note.jpg").write_text("not an image")
    good = splits("x").train
    bad = [Sample(id="b1", text="bad", label=0, image_path=tmp_path / "note.jpg")]
    data = DatasetSplits(name="posts", label_names=("positive",), train=good + bad, dev=bad, test=[], has_images=True, metric="weighted")
    monkeypatch.setattr(pipeline, "build_splits", lambda dataset, root=None: data)
    with pytest.raises(DataError) as raised:
        pipeline.load_splits(tiny_spec.data)
    lines = str(raised.value).splitlines()
    assert lines[0] == "posts (5 samples): 3 problems"
    assert lines[1] == "  - test: the split has no samples; a dataset needs train, dev and test samples"
    assert lines[2].startswith("  - train: ") and "b1" in lines[2] and lines[3].startswith("  - dev: ") and "b1" in lines[3]
    assert "data.on_bad_image" in lines[-1]


def test_longer_positions_of_roberta_style_encoders_are_counted():
    from transformers import BertConfig, RobertaConfig

    from clmlf.checks import max_text_positions

    roberta, bert = nn.Module(), nn.Module()
    roberta.config, bert.config = RobertaConfig(max_position_embeddings=10, pad_token_id=1), BertConfig(max_position_embeddings=10)
    assert max_text_positions(roberta) == 8 and max_text_positions(bert) == 10 and max_text_positions(nn.Module()) is None
