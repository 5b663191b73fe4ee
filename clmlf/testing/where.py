"""Failure messages that name the component and say what to fix."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class Where:
    """The component under check: ``text_encoder 'gru'``."""

    kind: str
    name: str

    def fail(self, message: str) -> None:
        raise AssertionError(f"{self.kind} {self.name!r}: {message}")

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            self.fail(message)

    def shape(self, label: str, tensor: object, expected: tuple[int | None, ...], meaning: str, fix: str = "") -> None:
        """``tensor`` is a tensor of ``expected`` shape (None: any size there); ``meaning`` spells the dims out."""
        self.expect(isinstance(tensor, Tensor), f"{label} is {type(tensor).__name__}, expected a tensor of shape {meaning}")
        shown = tuple("*" if size is None else size for size in expected)
        matches = tensor.dim() == len(expected) and all(e is None or e == s for e, s in zip(expected, tensor.shape))
        self.expect(matches, f"{label} has shape {tuple(tensor.shape)}, expected {shown} = {meaning}" + (f"; {fix}" if fix else ""))

    def close(self, label: str, actual: Tensor, expected: Tensor, fix: str) -> None:
        """``actual`` equals ``expected`` within float32 noise."""
        same = actual.shape == expected.shape and bool(((actual - expected).abs() <= 1e-4 + 1e-4 * expected.abs()).all())
        gap = (actual - expected).abs().max().item() if actual.shape == expected.shape else float("nan")
        self.expect(same, f"{label} (largest difference {gap:.3g}); {fix}")
