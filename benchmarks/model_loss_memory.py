"""Model the extra memory of a fused loss step on CPU: the wrapper's own tensors plus what the Triton kernels allocate.

    python benchmarks/model_loss_memory.py [--n 32768] [--d 768]

Stand-in kernels allocate exactly what the Triton ones hold at their peak (the LSE; in the backward pass dx and one
strip of weights E, ``triton_backend.strip_rows`` rows) and compute nothing, so the peak of live tensor bytes
(tests/losses/_live_bytes.py) is the step's extra memory without CUDA's allocator rounding or cuBLAS workspaces.
Prints, for bf16 rows, supcon and ntxent through the single-process op (unit_rows) and through the general path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "losses"))
from _live_bytes import LiveBytes  # noqa: E402
from _loss_cases import inputs, run  # noqa: E402

from clmlf.losses._common import accumulation_dtype  # noqa: E402
from clmlf.losses.fused import triton_backend, variants  # noqa: E402
from clmlf.losses.fused.row_lse import Kernels  # noqa: E402


def stand_in_kernels() -> Kernels:
    def lse(x, *_):
        return torch.zeros(x.shape[0], dtype=accumulation_dtype(x))

    def grad(x, *_):
        dx = torch.zeros(x.shape, dtype=accumulation_dtype(x))
        strip = torch.empty(triton_backend.strip_rows(x.shape[0], x.shape[0], x.element_size()), x.shape[0], dtype=x.dtype)
        del strip  # alive together with the operand x and dx, as in triton_backend.symmetric_grad
        return dx, None

    return Kernels(row_lse=lse, row_grad=None, symmetric_lse=lse, symmetric_grad=grad, half_operands=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32768)
    parser.add_argument("--d", type=int, default=768)
    args = parser.parse_args()
    lean = variants._lean
    for loss in ("lbcl/supcon", "dbcl/ntxent"):
        for path in ("unit_rows", "general"):
            variants._lean = lean if path == "unit_rows" else (lambda *_: False)
            z, second = inputs(loss, args.n, args.d, dtype=torch.bfloat16, seed=0)
            with LiveBytes() as memory:
                run(loss, "triton", z, second, 0.1, kernels=stand_in_kernels())
            print(f"{loss} N={args.n} d={args.d} bf16, {path}: {memory.peak / 2**20:,.1f} MiB extra")
    variants._lean = lean


if __name__ == "__main__":
    main()
