"""``clmlf visualize`` on tiny runs: attention maps, t-SNE and cases.md; clear errors for bad input."""

from __future__ import annotations

import json
import re

from PIL import Image

from clmlf.cli import main
from clmlf.experiments.attention import merge_word_pieces


def test_word_pieces_merge_into_words():
    tokens = ["[CLS]", "un", "##believ", "##able", "view", "!", "[SEP]", "[PAD]"]
    assert merge_word_pieces(tokens, {"[CLS]", "[SEP]", "[PAD]"}) == [("unbelievable", [1, 2, 3]), ("view", [4]), ("!", [5])]


def test_figures_and_cases_next_to_the_ablation_text_only_run(tiny_ablation, capsys):
    run = tiny_ablation / "clmlf" / "seed0"
    assert main(["visualize", str(run), "--n", "2", "--no-progress"]) == 0
    written = json.loads(capsys.readouterr().out)["written"]
    figures = run / "figures"
    attention = sorted(figures.glob("attention_*.png"))
    assert len(attention) == 2 and {str(path) for path in attention} <= set(written)
    for path in [*attention, figures / "tsne.png"]:
        with Image.open(path) as image:
            assert image.width > 600 and image.height > 300
    cases = (figures / "cases.md").read_text()
    assert cases.startswith("# Where tiny-clmlf and tiny-text_only disagree (test split)")
    disagreeing = int(re.search(r"(\d+) of 24 items", cases).group(1))
    assert cases.count("/dataset_image/") == disagreeing  # one table row per disagreement, with its image path


def test_explicit_text_only_run_and_a_model_without_attention(tiny_ablation, tmp_path, capsys, caplog):
    late = tiny_ablation / "late_fusion" / "seed0"
    text_only = tiny_ablation / "text_only" / "seed0"
    argv = ["visualize", str(late), "--text-only", str(text_only), "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cases.md", "tsne.png"]
    assert "no attention maps" in caplog.text


def test_bad_input_gets_one_line_errors(tiny_ablation, tmp_path, capsys):
    assert main(["visualize", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint/model.safetensors" in err and len(err.strip().splitlines()) == 1
    run = str(tiny_ablation / "clmlf" / "seed0")
    assert main(["visualize", run, "--head", "7", "--out", str(tmp_path / "figures"), "--no-progress"]) == 2
    assert "--head 7: the fusion layers have 2 heads (use 0..1)" in capsys.readouterr().err
