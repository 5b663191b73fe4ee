"""Train-step throughput (pytest-benchmark): samples/s of one optimizer step (two views, fwd + bwd + AdamW) and its
peak memory, our training path against the reference-style path on the same device in the same run.

GPU (``gpu`` marker): full size (bert-base + ResNet-50, random init) at batch 32 and 128.
CPU: the tiny config at batch 16 (keeps the benchmark code exercised without a GPU).
"""

from __future__ import annotations

import time

import pytest
import torch
from train_step_cases import StepCase, make_step

PATHS = ("reference", "ours", "ours+compile", "ours+cudagraphs")
CASES = [StepCase("full", path, batch, "cuda") for batch in (32, 128) for path in PATHS] + [
    StepCase("tiny", path, 16, "cpu") for path in ("reference", "ours")
]
_DONE: dict[tuple, dict[str, float]] = {}
"""(size, batch, device) -> path -> samples/s of the cases already run (reference first)."""


def _params():
    return [pytest.param(case, id=case.id, marks=[pytest.mark.gpu] if case.device == "cuda" else []) for case in CASES]


@pytest.mark.parametrize("case", _params())
def test_train_step(benchmark, case: StepCase):
    cuda = case.device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    step = make_step(case)
    started = time.perf_counter()
    for _ in range(3 if case.path.startswith("ours+") else 2):  # warm-up (and compilation, graph capture)
        step()
    sync()
    warmup_s = time.perf_counter() - started
    if cuda:
        torch.cuda.reset_peak_memory_stats()

    def run():
        loss = step()
        sync()
        return loss

    benchmark.group = f"train step {case.size} B={case.batch} {case.device}"
    loss = benchmark.pedantic(run, rounds=10 if cuda else 3, iterations=1)
    assert torch.isfinite(loss)
    if benchmark.stats is None:
        return
    rate = case.batch / benchmark.stats.stats.median
    info = {"kind": "train_step", "size": case.size, "path": case.path, "batch": case.batch, "device": case.device,
            "samples_per_s": rate, "warmup_s": warmup_s}
    if cuda:
        info["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    done = _DONE.setdefault((case.size, case.batch, case.device), {})
    done[case.path] = info
    if case.path != "reference" and "reference" in done:
        info["speedup_vs_reference"] = rate / done["reference"]["samples_per_s"]
        if cuda:
            info["memory_fraction_of_reference"] = info["peak_mib"] / done["reference"]["peak_mib"]
    benchmark.extra_info.update(info)
