"""Benchmark plumbing: the ``gpu`` marker (skipped without CUDA) and peak-memory helpers.

Run from the repository root, e.g.
    python -m pytest benchmarks -p no:cacheprovider --benchmark-json=benchmarks/results.json
(benchmarks are not collected by the normal test run, whose testpaths is ``tests``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA device (skipped without one)")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def pytest_benchmark_update_machine_info(config, machine_info):
    """Record what render_results.py prints: the exact command, torch version and thread count, the GPU."""
    env = [f"{key}={os.environ[key]}" for key in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MKL_NUM_THREADS") if key in os.environ]
    machine_info["command"] = " ".join([*env, "python -m pytest", *config.invocation_params.args])
    machine_info["torch"] = torch.__version__
    machine_info["torch_threads"] = torch.get_num_threads()
    machine_info["cuda_device"] = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    machine_info["loadavg_at_start"] = os.getloadavg()


@pytest.fixture(autouse=True)
def _record_load(request):
    """Store the 1-minute load average after each benchmark: other work on the machine distorts timings."""
    yield
    benchmark = request.node.funcargs.get("benchmark")
    if benchmark is not None:
        benchmark.extra_info["loadavg_1min"] = os.getloadavg()[0]


def peak_memory_mb(case) -> float:
    """Extra peak memory (MiB) of one step of ``case``.

    CPU: the case runs once in a fresh subprocess (peak RSS minus the RSS with inputs allocated) — the only honest
    CPU number, since an allocator that caches freed pages hides later peaks. CUDA: max_memory_allocated delta."""
    if case.device == "cuda":
        from loss_cases import make_inputs, step

        z, second = make_inputs(case)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step(case, z, second)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    out = subprocess.run(
        [sys.executable, str(HERE / "loss_cases.py"), json.dumps(asdict(case))],
        capture_output=True, text=True, check=True, cwd=HERE.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]


def available_bytes(device: str) -> int:
    if device == "cuda":
        return torch.cuda.mem_get_info()[0]
    with open("/proc/meminfo") as meminfo:
        return next(int(line.split()[1]) * 1024 for line in meminfo if line.startswith("MemAvailable:"))
