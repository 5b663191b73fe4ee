"""Benchmark cases for the contrastive losses, shared by test_loss_speed.py and the peak-memory child process.

``python benchmarks/loss_cases.py '<case json>'`` runs one case once in a fresh process and prints its peak
memory as JSON (see conftest.peak_memory_mb).
"""

from __future__ import annotations

import json
import resource
import sys
from dataclasses import asdict, dataclass

import torch

from clmlf.losses import dbcl, lbcl

IMPLS = {"pml": "PML", "naive": "naive torch (impl='reference')", "chunked": "chunked", "triton": "triton"}
"""Implementation key -> label. ``naive`` is our ``reference`` implementation: direct N×N torch autograd."""


@dataclass(frozen=True)
class Case:
    loss: str  # "lbcl/supcon", "lbcl/clmlf", "dbcl/ntxent", "dbcl/clmlf"
    impl: str  # key of IMPLS
    n: int
    d: int
    dtype: str  # "float32" | "bfloat16"
    mode: str  # "fwd" | "fwd+bwd"
    device: str = "cpu"

    @property
    def id(self) -> str:
        loss, mode = self.loss.replace("/", "_"), self.mode.replace("+", "_")
        return f"{self.device}-{loss}-{self.impl}-N{self.n}-d{self.d}-{self.dtype}-{mode}"

    @property
    def group(self) -> tuple:
        """Everything but the implementation: cases in one group are compared with each other."""
        return self.loss, self.n, self.d, self.dtype, self.mode, self.device

    def estimated_bytes(self) -> float:
        """Rough peak memory, used to skip cases that cannot fit (N² logits; PML NT-Xent is cubic)."""
        rows = 2 * self.n if self.loss == "dbcl/ntxent" else self.n
        if self.impl == "pml":
            return 96.0 * self.n**3 if self.loss == "dbcl/ntxent" else 48.0 * self.n**2
        if self.impl == "naive":
            return 8 * 4.0 * rows**2
        return 12 * 4.0 * rows * self.d + 3 * 4.0 * 1024 * rows


def grid(device: str, sizes: tuple[int, ...]) -> list[Case]:
    """CPU: the standard variants in full (both dtypes and modes, both d), the ``clmlf`` variants at fp32 fwd+bwd,
    d=768. CUDA (time-boxed): the full dtype/mode/d grid at N ≤ 32k, then bf16 d=768 only up to the largest size,
    where only the fused paths fit (1M: triton alone). Within a group PML comes first, so later implementations can
    report their ratio to it."""
    if device == "cuda":
        return _cuda_grid(sizes)
    cases = []
    for loss, extra in [("lbcl/supcon", ()), ("dbcl/ntxent", (256,))]:
        for n in sorted({*extra, *sizes}):
            for d in (128, 768):
                for dtype in ("float32", "bfloat16"):
                    for mode in ("fwd", "fwd+bwd"):
                        cases += [Case(loss, impl, n, d, dtype, mode, device) for impl in ("pml", "naive", "chunked")]
    for loss in ("lbcl/clmlf", "dbcl/clmlf"):
        cases += [Case(loss, impl, n, 768, "float32", "fwd+bwd", device) for n in sizes for impl in ("naive", "chunked")]
    return cases


def _cuda_grid(sizes: tuple[int, ...]) -> list[Case]:
    cases = []
    for loss in ("lbcl/supcon", "dbcl/ntxent"):
        for n in sizes if loss == "lbcl/supcon" else [n for n in sizes if n <= 65536]:
            full_grid = n <= 32768 and loss == "lbcl/supcon"
            impls = ("triton",) if n > 262144 else ("pml", "naive", "triton", "chunked") if n <= 65536 else ("pml", "naive", "triton")
            for d in (128, 768) if full_grid else (768,):
                for dtype in ("float32", "bfloat16") if full_grid else ("bfloat16",):
                    for mode in ("fwd", "fwd+bwd") if n <= 262144 else ("fwd+bwd",):
                        cases += [Case(loss, impl, n, d, dtype, mode, "cuda") for impl in impls]
    for loss in ("lbcl/clmlf", "dbcl/clmlf"):
        cases += [Case(loss, impl, 32768, 768, "bfloat16", "fwd+bwd", "cuda") for impl in ("naive", "triton", "chunked")]
    return cases


def make_inputs(case: Case) -> tuple[torch.Tensor, torch.Tensor]:
    """Leaf embeddings z (N, d) and labels (3 classes) or z_aug (N, d)."""
    g = torch.Generator(device=case.device).manual_seed(0)
    dtype = getattr(torch, case.dtype)
    z = torch.randn(case.n, case.d, generator=g, device=case.device).to(dtype).requires_grad_()
    if case.loss.startswith("lbcl"):
        return z, torch.randint(0, 3, (case.n,), generator=g, device=case.device)
    return z, torch.randn(case.n, case.d, generator=g, device=case.device).to(dtype).requires_grad_()


def step(case: Case, z: torch.Tensor, second: torch.Tensor) -> None:
    """One forward (and backward) pass."""
    family, variant = case.loss.split("/")
    impl = "reference" if case.impl == "naive" else case.impl
    fn = lbcl if family == "lbcl" else dbcl
    if case.mode == "fwd":
        with torch.no_grad():
            fn(z, second, 0.07, variant, impl)
    else:
        fn(z, second, 0.07, variant, impl).backward()


def clmlf_repo_lbcl(z: torch.Tensor, labels: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """The LBCL algorithm of the CLMLF reference code (github Link-Li/CLMLF), re-expressed for benchmarking:
    per-class member lists (its collate step), then a Python loop over anchors that concatenates each anchor's
    same-label row indices, offset into the flattened log_softmax(z zᵀ)/τ, and one gather. Same value as
    ``lbcl(variant="clmlf")``."""
    n = labels.shape[0]
    members = [torch.nonzero(labels == c).flatten() for c in range(int(labels.max()) + 1)]
    log_prob = ((z @ z.T).log_softmax(-1) / temperature).flatten()
    index = members[labels[0]]
    for i in range(1, n):
        index = torch.cat([index, members[labels[i]] + i * n])
    return -log_prob.gather(0, index).sum() / index.numel()


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


def measure_cpu_peak(case: Case) -> float:
    """Extra peak RSS (MiB) of one step over the RSS with inputs allocated; call in a fresh process."""
    z, second = make_inputs(case)
    try:  # reset the peak-RSS watermark (Linux >= 4.0), so import-time transients do not hide the step's peak
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        baseline, peak = _rss_kib("VmRSS:"), lambda: _rss_kib("VmHWM:")
    except OSError:
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # noqa: E731
        baseline = peak()
    step(case, z, second)
    return max(0, peak() - baseline) / 1024


if __name__ == "__main__":
    case = Case(**json.loads(sys.argv[1]))
    print(json.dumps({"case": asdict(case), "peak_mb": measure_cpu_peak(case)}))
