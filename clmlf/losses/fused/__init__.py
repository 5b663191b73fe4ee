"""Fused implementations: one autograd op for the global row LSE (row_lse) with ``chunked`` (torch tiles) and
``triton`` kernels, and the four loss variants on top of it (variants)."""
