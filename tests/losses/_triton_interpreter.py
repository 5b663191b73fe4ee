"""Whether Triton's interpreter can run clmlf's kernels on this machine (the CPU tests of ``impl="triton"``)."""

from __future__ import annotations

import functools
import os


@functools.cache
def interpreter_problem() -> str | None:
    """None when the interpreter runs a loop bounded by a program id, as the kernels do; else why not (a skip reason).

    Triton's interpreter before 3.8 turns a program id, a one-element array, into an int with ``int(array)``, which
    numpy 2.4 refuses ("only 0-dimensional arrays can be converted to Python scalars"). Compiled GPU kernels are not
    affected. Checked only where the interpreter is on (TRITON_INTERPRET=1)."""
    if os.environ.get("TRITON_INTERPRET") != "1":
        return None
    import numpy
    import torch
    import triton
    import triton.language as tl

    @triton.jit
    def loop_from_program_id(X):
        for index in range(tl.program_id(0), 1):
            tl.store(X + index, 1.0)

    try:
        loop_from_program_id[(1,)](torch.zeros(1))
    except Exception as error:  # noqa: BLE001 - any failure means the kernels cannot run here
        return (f"triton {triton.__version__}'s interpreter cannot run the kernels with numpy {numpy.__version__} "
                f"({error}); triton 3.8 can, and compiled GPU kernels are not affected")
    return None
