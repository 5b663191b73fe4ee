"""The README's and docs/ pages' examples are tested, so the documentation cannot drift from the code:

- every ```python block runs (a page's blocks in order, in one namespace, in a scratch folder), unless the comment
  line above it says ``<!-- tested by tests/FILE.py -->`` (that file runs it: it must name the page) or
  ``<!-- not run: why -->``;
- a block whose first line is ``# PATH`` of a repository file is a verbatim excerpt of that file;
- every ``clmlf`` command line in a ```bash block parses with the real command-line parser, and a block under
  ``<!-- run by tests/test_docs.py -->`` runs in bash, in a scratch folder;
- every relative link points at a file of the repository (and at a heading of it, with ``#anchor``);
- the configuration errors shown in docs/configs.md are what ``clmlf validate`` prints.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from clmlf.presets import preset_files
from conftest import REPO, has_real_data

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"(?:<!-- (?P<note>[^\n]*?) -->\n)?```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)```", flags=re.S)
STAND_INS = {  # names the component example leaves to the reader: (B, Lt, D) text states, (B, Lt) mask, (B, Li, D) image
    "text_hidden": torch.randn(2, 7, 384), "text_mask": torch.ones(2, 7, dtype=torch.bool), "image_hidden": torch.randn(2, 10, 384),
}


@dataclass(frozen=True)
class Block:
    page: Path
    lang: str
    body: str
    note: str | None

    @property
    def excerpt_of(self) -> Path | None:
        """The repository file this block quotes (its first line is ``# PATH``), if any."""
        first = self.body.partition("\n")[0]
        path = REPO / first.removeprefix("# ")
        return path if first.startswith("# ") and path.is_file() else None

    @property
    def name(self) -> str:
        return self.page.relative_to(REPO).as_posix()


def page_blocks(page: Path) -> list[Block]:
    return [Block(page, match["lang"], match["body"], match["note"]) for match in FENCE.finditer(page.read_text())]


BLOCKS = [block for page in PAGES for block in page_blocks(page)]
EXCERPTS = [block for block in BLOCKS if block.excerpt_of]
PYTHON = [block for block in BLOCKS if block.lang == "python" and not block.excerpt_of]
RUN_PAGES = sorted({block.name for block in PYTHON if block.note is None})


def runnable(name: str) -> list[Block]:
    return [block for block in PYTHON if block.name == name and block.note is None]


def test_every_page_is_linked_from_the_readme():
    readme = (REPO / "README.md").read_text()
    unlinked = [page.name for page in PAGES[1:] if f"(docs/{page.name})" not in readme]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"


def test_the_readme_stays_short():
    assert len((REPO / "README.md").read_text().splitlines()) <= 150, "move details into a docs/ page and link it"


@pytest.mark.parametrize("block", EXCERPTS, ids=lambda block: f"{block.name}:{block.excerpt_of.relative_to(REPO)}")
def test_an_excerpt_is_the_file(block):
    assert block.body.partition("\n")[2] in block.excerpt_of.read_text(), (
        f"{block.name}'s block of {block.excerpt_of.relative_to(REPO)} differs from the file: copy it again")


@pytest.mark.parametrize("block", [block for block in PYTHON if block.note], ids=lambda block: f"{block.name}:{block.note}")
def test_a_block_not_run_here_says_why(block):
    if block.note.startswith("tested by "):
        test_file = REPO / block.note.removeprefix("tested by ")
        assert test_file.is_file(), f"{block.name}: {block.note} names no file"
        assert block.name in test_file.read_text(), f"{test_file.name} does not run {block.name}'s example"
    else:
        assert re.fullmatch(r"not run: .{10,}", block.note), f"{block.name}: unknown note {block.note!r}"


def trained_run(folder: Path) -> None:
    """``runs/demo`` (one epoch of the tiny config on synthetic posts) and two photos, for docs/predict.md."""
    from PIL import Image

    from clmlf.cli import main
    from clmlf.testing import write_posts

    write_posts(folder / "posts", sizes=(12, 6, 6))
    posts = "data.dataset={type: jsonl, root: posts, train: train.jsonl, dev: dev.jsonl, test: test.jsonl, images: true}"
    assert main(["train", "tiny", "--out", "runs/demo", "--set", posts, "--set", "train.epochs=1", "--no-progress"]) == 0
    for name, colour in (("photo.jpg", (250, 200, 60)), ("rain.jpg", (60, 70, 90))):
        Image.new("RGB", (64, 48), colour).save(folder / name)


SETUP = {"docs/predict.md": trained_run}


@pytest.mark.parametrize("name", RUN_PAGES)
def test_a_page_python_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if name in SETUP:
        SETUP[name](tmp_path)
    namespace = {"__name__": f"docs_example_{Path(name).stem}", **STAND_INS}
    for index, block in enumerate(runnable(name)):
        exec(compile(block.body, f"{name} python block {index + 1}", "exec"), namespace)  # noqa: S102
    if "pooled" in namespace:
        assert namespace["pooled"].shape[0] == 2


def command_lines(body: str) -> list[list[str]]:
    """The ``clmlf ...`` commands of a shell block (also ``python -m clmlf``, ``torchrun ... -m clmlf``), as argv;
    ``[optional]`` brackets dropped, output redirections ignored."""
    commands = []
    for line in body.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line.replace("[", "").replace("]", ""), posix=True, punctuation_chars=";&|<>")
        lexer.whitespace_split, lexer.commenters = True, "#"
        segment: list[str] = []
        for word in [*lexer, ";"]:
            if set(word) <= set(";&|<>"):  # an operator ends a command (a redirection's target is no clmlf command)
                commands.append(segment)
                segment = []
            else:
                segment.append(word)
    return [argv for argv in map(clmlf_argv, commands) if argv is not None]


def clmlf_argv(words: list[str]) -> list[str] | None:
    """The arguments after ``clmlf`` (or ``-m clmlf``) of one shell command, or None when it runs something else."""
    words = [re.sub(r"\$\w+", "1", word) for word in words]  # a loop's $i: 1
    while words and (words[0] in {"do", "then", "time", "nohup"} or re.fullmatch(r"\w+=\S*", words[0])):
        words = words[1:]
    if words and (words[0] == "clmlf" or words[0].endswith("/clmlf")):
        return words[1:]
    if "-m" in words and words[words.index("-m") + 1:][:1] == ["clmlf"]:
        return words[words.index("-m") + 2:]
    return None


SHELL = [(block.name, argv) for block in BLOCKS if block.lang == "bash" for argv in command_lines(block.body)]


def test_the_pages_show_commands():
    assert {name for name, _ in SHELL} >= {"README.md", "docs/training.md", "docs/experiments.md", "docs/distributed.md"}


@pytest.mark.parametrize(("name", "argv"), SHELL, ids=[f"{name}:{' '.join(argv)[:60]}" for name, argv in SHELL])
def test_a_command_line_parses(name, argv, capsys):
    from clmlf.cli import parser

    try:
        parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{name}: `clmlf {' '.join(argv)}` does not parse: {capsys.readouterr().err.strip()}")


RUN_SHELL = [block for block in BLOCKS if block.lang == "bash" and block.note == "run by tests/test_docs.py"]


@pytest.mark.slow
@pytest.mark.skipif(not has_real_data(), reason="real data (MVSA-Single) absent: set CLMLF_DATA_DIR")
@pytest.mark.parametrize("block", RUN_SHELL, ids=lambda block: block.name)
def test_a_shell_example_runs(block, tmp_path):
    """With this environment's ``clmlf`` and ``torchrun`` first on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.body], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, f"{block.name}'s example failed:\n{block.body}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def test_the_pages_run_shell_examples():
    assert {block.name for block in RUN_SHELL} == {"docs/experiments.md", "docs/distributed.md"}


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", page.read_text(), flags=re.S), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


LINKS = [(page, target) for page in PAGES for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text())
         if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize(("page", "target"), LINKS, ids=[f"{page.name}->{target}" for page, target in LINKS])
def test_a_link_points_into_the_repository(page, target):
    path, _, anchor = target.partition("#")
    resolved = (page.parent / path).resolve() if path else page
    assert resolved.exists(), f"{page.relative_to(REPO)} links {target}, which does not exist"
    if anchor:
        assert anchor in anchors(resolved), f"{page.relative_to(REPO)} links {target}: no such heading"


def test_the_config_errors_shown_are_the_real_ones(tmp_path, monkeypatch, capsys):
    from clmlf.cli import main

    blocks = page_blocks(REPO / "docs" / "configs.md")
    bad = next(block for block in blocks if block.body.startswith("# bad.yaml"))
    shown = next(block for block in blocks if block.body.startswith("$ clmlf validate bad.yaml"))
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text(bad.body)
    assert main(["validate", "bad.yaml"]) == 2
    assert capsys.readouterr().err == shown.body.partition("\n")[2]


@pytest.mark.parametrize("name", list(preset_files()))
def test_every_preset_validates_by_name(name):
    import clmlf

    assert clmlf.load_spec(name).name == name
