"""``clmlf ablate --shard I/N``: one of N processes (or machines sharing the output folder) trains every N-th run.

The runs of a ladder or sweep are listed in a fixed order (row after row, seed after seed) and shard I takes runs
I-1, I-1+N, I-1+2N, ...: the shards never train the same run, and each mixes cheap and expensive rows. A shard writes
only its runs; the same command without ``--shard``, once every shard has finished, reuses them all and writes the
summary (``ablation.json`` / ``sweep.json`` with the table and figure).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI parses --shard before anything heavy loads
    from clmlf.spec import ExperimentSpec


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def pick(self, runs: list[tuple[ExperimentSpec, Path]]) -> list[tuple[ExperimentSpec, Path]]:
        return runs[self.index - 1::self.count]


def parse_shard(text: str) -> Shard:
    """``"2/4"`` -> Shard(2, 4); an argparse type (a clear message for anything else)."""
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit()) or not 1 <= int(index) <= int(count):
        raise argparse.ArgumentTypeError(f"expected I/N with 1 <= I <= N (for example 1/4), got {text!r}")
    return Shard(int(index), int(count))


def run_shard(runs: list[tuple[ExperimentSpec, Path]], shard: Shard, progress: bool = True) -> list[dict]:
    """Train (or reuse) this shard's share of ``runs``; returns ``{"dir", "seed", "accuracy", "f1"}`` per run (test)."""
    from clmlf.experiments.seeds import train_or_reuse

    results = [train_or_reuse(spec, run_dir, progress) for spec, run_dir in shard.pick(runs)]
    return [{"dir": run["run_dir"], "seed": run["seed"], "accuracy": run["test"]["accuracy"], "f1": run["test"]["f1"]}
            for run in results]
