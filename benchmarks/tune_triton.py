"""Time launch configurations of the Triton loss kernels on this GPU (LBCL ``supcon``, bf16, N×d rows).

    python benchmarks/tune_triton.py [--n 32768] [--d 768] [--out tuning.json]

Prints one JSON line per configuration — the symmetric forward sums, the backward strip of weights (one-exponential
symmetric form and the general form) and the whole symmetric backward — then fwd and fwd+bwd of the loss per
backward strip height with its extra peak memory. Times: CUDA events, (min, median) ms of 10 runs after 2 warm-ups.
The defaults in clmlf/losses/fused/triton_backend.py are the fastest rows of such a run.
"""

from __future__ import annotations

import argparse
import json

import torch

from clmlf.losses import lbcl
from clmlf.losses.fused import triton_backend as tb
from clmlf.losses.fused.row_lse import Stats

SYMMETRIC_SUM = [dict(B=128, BK=bk, num_warps=8, num_stages=st) for bk, st in [(64, 3), (128, 3), (64, 4), (32, 5)]]
BLOCKS = [dict(BM=bm, BN=bn, BK=bk, num_warps=8, num_stages=st)
          for bm, bn, bk, st in [(128, 128, 64, 3), (128, 128, 128, 3), (128, 256, 64, 3), (128, 128, 64, 4), (64, 256, 64, 3), (256, 128, 64, 3)]]
STRIPS = (1024, 2048, 4096)


def timed(fn, reps: int = 10, warm: int = 2) -> tuple[float, float]:
    for _ in range(warm):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(reps):
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return min(times), sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32768)
    parser.add_argument("--d", type=int, default=768)
    parser.add_argument("--out", default=None, help="also write all rows to this JSON file")
    args = parser.parse_args()
    n, d, beta = args.n, args.d, 1 / 0.07
    g = torch.Generator(device="cuda").manual_seed(0)
    z = torch.randn(n, d, device="cuda", generator=g).bfloat16().requires_grad_()
    labels = torch.randint(0, 3, (n,), device="cuda", generator=g)
    x = torch.nn.functional.normalize(z.detach().float(), dim=1).bfloat16()
    lse = tb.symmetric_lse(x, beta, True, True)
    stats = Stats(lse, torch.full_like(lse, 1 / n))
    weights = stats.weight * torch.exp(beta - lse)
    rate = 2 * n * n * d / (timed(lambda: torch.mm(x, x.T))[1] * 1e-3) / 1e12
    rows: list[dict] = [{"n": n, "d": d, "device": torch.cuda.get_device_name(), "bf16_matmul_tflops": rate,
                         "floor_ms": 4 * n * n * d / (rate * 1e12) * 1e3}]

    def record(row: dict) -> None:
        rows.append(row)
        print(json.dumps(row), flush=True)

    defaults = dict(tb.SYMMETRIC_SUM), dict(tb.SYMMETRIC_PROBS), dict(tb.BLOCKS), tb.MIN_STRIP_ROWS
    print(json.dumps(rows[0]), flush=True)
    for config in SYMMETRIC_SUM:
        tb.SYMMETRIC_SUM = config
        record({"kernel": "symmetric_sum", **config, "ms": timed(lambda: tb.symmetric_lse(x, beta, True, True))})
    tb.SYMMETRIC_SUM = defaults[0]
    strip = min(2048, n)
    for config in BLOCKS:
        tb.SYMMETRIC_PROBS = tb.BLOCKS = config
        record({"kernel": "probs", **config,
                "symmetric_strip_ms": timed(lambda: tb._symmetric_probs(x, 0, strip, beta, weights, True)),
                "general_strip_ms": timed(lambda: tb._probs(x[:strip], x, beta, Stats(lse[:strip], stats.weight[:strip]), stats, 0)),
                "symmetric_grad_ms": timed(lambda: tb.symmetric_grad(x, beta, stats, True, False, True))})
    tb.SYMMETRIC_PROBS, tb.BLOCKS = defaults[1], defaults[2]

    def fwd_bwd() -> None:
        z.grad = None
        lbcl(z, labels, 0.07, "supcon", "triton").backward()

    for rows_per_strip in STRIPS:
        tb.MIN_STRIP_ROWS = rows_per_strip
        fwd_bwd()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fwd_bwd()
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
        with torch.no_grad():
            fwd = timed(lambda: lbcl(z, labels, 0.07, "supcon", "triton"))
        record({"strip_rows": rows_per_strip, "fwd_ms": fwd, "fwd_bwd_ms": timed(fwd_bwd), "peak_mib": peak})
    tb.MIN_STRIP_ROWS = defaults[3]
    if args.out:
        with open(args.out, "w") as out:
            json.dump(rows, out, indent=1)


if __name__ == "__main__":
    main()
