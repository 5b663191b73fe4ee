"""Loss throughput (pytest-benchmark): fwd and fwd+bwd of every implementation next to PML and naive torch.

CPU: N ∈ {1024, 2048, 4096, 8192} (NT-Xent also 256, the only size where PML's cubic NT-Xent fits);
GPU (``gpu`` marker): N up to 1,048,576. Each case records its extra peak memory and its ratios to PML and to
naive torch in ``benchmark.extra_info``; cases estimated not to fit in memory are skipped. Ratios use the
minimum over rounds (the least disturbed by other load on the machine). Render with render_results.py.
"""

from __future__ import annotations

import pytest
import torch
from conftest import available_bytes, peak_memory_mb
from loss_cases import IMPLS, Case, clmlf_repo_lbcl, grid, make_inputs, step

from clmlf.losses import lbcl

CPU_SIZES = (1024, 2048, 4096, 8192)
GPU_SIZES = (4096, 32768, 65536, 262144, 1048576)
CASES = grid("cpu", CPU_SIZES) + grid("cuda", GPU_SIZES)
_DONE: dict[tuple, dict[str, dict[str, float]]] = {}
"""case.group -> impl -> {"min_s", "peak_mb"} of the cases already run (PML and naive run first)."""


def _params():
    return [pytest.param(case, id=case.id, marks=[pytest.mark.gpu] if case.device == "cuda" else []) for case in CASES]


def _ratios(group: tuple, impl: str, mine: dict[str, float]) -> dict[str, float]:
    done = _DONE.setdefault(group, {})
    done[impl] = mine
    info = {}
    for other in ("pml", "naive"):
        if other != impl and other in done:
            info[f"speedup_vs_{other}"] = done[other]["min_s"] / mine["min_s"]
            info[f"memory_fraction_of_{other}"] = mine["peak_mb"] / max(done[other]["peak_mb"], 1e-9)
    return info


@pytest.mark.gpu
@pytest.mark.parametrize("d", [128, 768])
def test_bf16_matmul_rate(benchmark, d):
    """The card's bf16 matmul rate on the loss's own shape, (32768, d) @ (d, 32768) -> fp32-accumulated bf16: the
    compute floor of a fused loss step is 4·N²·d / this rate (RESULTS.md)."""
    n = 32768
    a = torch.randn(n, d, device="cuda", dtype=torch.bfloat16)

    def run():
        torch.mm(a, a.T)
        torch.cuda.synchronize()

    benchmark.group = "bf16 matmul rate"
    benchmark.pedantic(run, rounds=20, warmup_rounds=3, iterations=1)
    if benchmark.stats is not None:
        benchmark.extra_info.update({"kind": "matmul_rate", "n": n, "d": d, "tflops": 2 * n * n * d / benchmark.stats.stats.median / 1e12})


@pytest.mark.parametrize("case", _params())
def test_loss_speed(benchmark, case: Case):
    if case.device == "cuda":
        torch.cuda.empty_cache()  # what earlier cases left in the caching allocator is free for this one
    needed = case.estimated_bytes()
    if needed > 0.5 * available_bytes(case.device):
        pytest.skip(f"{IMPLS[case.impl]} does not fit: ~{needed / 2**30:.1f} GiB estimated")
    z, second = make_inputs(case)
    sync = torch.cuda.synchronize if case.device == "cuda" else (lambda: None)

    def reset():
        z.grad = second.grad = None

    def run():
        step(case, z, second)
        sync()

    benchmark.group = " ".join(str(part) for part in case.group)
    huge = case.n > 262144  # one timed round, no warm-up (the peak-memory step below runs it once more)
    benchmark.pedantic(run, setup=reset, rounds=1 if huge else 5 if case.n <= 2048 else 3, warmup_rounds=0 if huge else 1, iterations=1)
    if benchmark.stats is None:  # --benchmark-disable: a smoke run, nothing to record
        return
    peak = peak_memory_mb(case)
    benchmark.extra_info.update(
        {"kind": "loss", **{k: getattr(case, k) for k in ("loss", "impl", "n", "d", "dtype", "mode", "device")}, "peak_mb": peak}
    )
    benchmark.extra_info.update(_ratios(case.group, case.impl, {"min_s": benchmark.stats.stats.min, "peak_mb": peak}))


@pytest.mark.parametrize("device,impl", [("cpu", "clmlf_repo"), ("cpu", "chunked"),
                                         pytest.param("cuda", "clmlf_repo", marks=pytest.mark.gpu),
                                         pytest.param("cuda", "triton", marks=pytest.mark.gpu)])
def test_clmlf_repo_lbcl_vs_ours(benchmark, device, impl):
    """LBCL ``clmlf`` at N=2048, d=768, fp32, fwd+bwd: the reference code's per-anchor index loop vs ours."""
    case = Case("lbcl/clmlf", impl, 2048, 768, "float32", "fwd+bwd", device)
    z, labels = make_inputs(case)
    fn = clmlf_repo_lbcl if impl == "clmlf_repo" else lambda z, y: lbcl(z, y, 0.07, "clmlf", impl)
    torch.testing.assert_close(fn(z, labels), lbcl(z, labels, 0.07, "clmlf", "reference"), rtol=1e-4, atol=1e-4)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def reset():
        z.grad = None

    def run():
        fn(z, labels).backward()
        sync()

    benchmark.group = f"clmlf-repo-lbcl N=2048 d=768 float32 fwd+bwd {device}"
    benchmark.pedantic(run, setup=reset, rounds=3, warmup_rounds=1, iterations=1)
    if benchmark.stats is None:
        return
    benchmark.extra_info.update({"kind": "clmlf_repo", "impl": impl, "device": device})
    done = _DONE.setdefault(("clmlf_repo", device), {})
    done[impl] = {"min_s": benchmark.stats.stats.min}
    if impl != "clmlf_repo" and "clmlf_repo" in done:
        benchmark.extra_info["speedup_vs_clmlf_repo"] = done["clmlf_repo"]["min_s"] / done[impl]["min_s"]


