"""Data errors with messages meant for people: what is wrong, where (file, row/id, field), and what to do."""

from __future__ import annotations

from pathlib import Path

MAX_LISTED = 10
SKIP_HINT = "set data.on_bad_image: skip (--set data.on_bad_image=skip) to drop such samples"
BAD_IMAGES_HINT = f"Replace or delete these files, or {SKIP_HINT}."


class DataError(ValueError):
    """A missing data root / dataset folder, a malformed dataset file, or an unusable sample."""


class BadImageError(DataError):
    """One image that cannot be used (missing, empty, truncated, not an image, too many pixels).

    ``str()`` is one line naming the sample id, the path, the reason and the ``data.on_bad_image`` switch.
    """

    def __init__(self, path: str | Path, reason: str, sample_id: str | None = None) -> None:
        self.path = Path(path)
        self.reason = " ".join(reason.split()).rstrip(". ")
        self.sample_id = sample_id
        who = f"sample {sample_id!r}: " if sample_id is not None else ""
        super().__init__(f"{who}cannot use image {self.path}: {self.reason}. Replace or delete the file, or {SKIP_HINT}.")

    def brief(self) -> str:
        """``"sample 'id': PATH: reason"`` without the advice (for lists and for callers with other remedies)."""
        who = f"sample {self.sample_id!r}: " if self.sample_id is not None else ""
        return f"{who}{self.path}: {self.reason}"

    def __reduce__(self) -> tuple[type, tuple[Path, str, str | None]]:
        """Pickle by the constructor's arguments (DataLoader workers send errors between processes)."""
        return type(self), (self.path, self.reason, self.sample_id)


def problems_error(source: str | Path, problems: list[str], hint: str) -> DataError:
    """One :class:`DataError` listing up to :data:`MAX_LISTED` ``problems`` found in ``source``, then ``hint``."""
    listed = problems[:MAX_LISTED]
    more = f"\n  ... and {len(problems) - len(listed)} more" if len(problems) > len(listed) else ""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return DataError(f"{source}: {count}\n" + "\n".join(f"  - {line}" for line in listed) + more + f"\n{hint}")
