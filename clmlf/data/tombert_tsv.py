"""Reader for the TomBERT TSV layout (aspect-based Twitter-15/17, ``absa_data``).

One header line starting with ``index`` (the train/dev files say ``index #1 Label #2 ImageID #3 String #3 String``,
the test files ``index #1 ImageID #2 String #2 String`` although their rows have the same five columns), then rows
``index <TAB> label <TAB> image id <TAB> tweet with $T$ <TAB> aspect term``. Labels are kept as TomBERT numbers
them: 0 negative, 1 neutral, 2 positive (:data:`TOMBERT_LABELS`). ``Sample.text`` is the tweet with every
``$T$`` replaced by the aspect term, ``Sample.aspect`` the term, ``Sample.id`` the ``index`` column (it restarts
in every file, so ids repeat across splits). Files are UTF-8 (a byte-order mark is accepted).
"""

from __future__ import annotations

from pathlib import Path

from clmlf.data.errors import DataError, problems_error
from clmlf.data.files import read_text
from clmlf.data.samples import Sample

TOMBERT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
ASPECT_MARK = "$T$"
COLUMNS = ("index", "label", "image id", "tweet with $T$", "aspect")
FIX_HINT = "Fix these lines (or take the file again from the TomBERT repository's absa_data/)."


def read_tombert_tsv(path: Path, image_dir: Path | None = None) -> list[Sample]:
    """The samples of one TomBERT TSV file, in file order; ``image_path`` is ``image_dir/<image id>`` when given."""
    lines = read_text(path).split("\n")
    if not lines[0].startswith("index"):
        raise DataError(
            f"{path}: line 1: expected the TomBERT header starting with 'index' and then tab-separated "
            f"{', '.join(COLUMNS)} rows, got {lines[0][:80]!r}. {FIX_HINT}"
        )
    problems: list[str] = []
    first_seen: dict[str, int] = {}
    samples: list[Sample] = []
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(COLUMNS):
            expected = f"{len(COLUMNS)} tab-separated fields ({', '.join(COLUMNS)})"
            problems.append(f"line {number}: expected {expected}, got {len(fields)}")
            continue
        index, label, image_id, tweet, aspect = fields
        where = f"line {number} (index {index!r})"
        before = len(problems)
        if not index.strip():
            problems.append(f"line {number}: field 'index' is empty")
        elif index != index.strip():
            problems.append(f"{where}: field 'index' has leading/trailing whitespace (write it as {index.strip()!r})")
        elif index in first_seen:
            problems.append(f"{where}: duplicate index (first at line {first_seen[index]})")
        else:
            first_seen[index] = number
        if label not in {str(i) for i in range(len(TOMBERT_LABELS))}:
            names = ", ".join(f"{i} {name}" for i, name in enumerate(TOMBERT_LABELS))
            problems.append(f"{where}: field 'label': expected 0..{len(TOMBERT_LABELS) - 1} ({names}), got {label!r}")
        if ASPECT_MARK not in tweet:
            problems.append(f"{where}: field 'tweet': no {ASPECT_MARK} marker where the aspect term stands")
        if not aspect.strip():
            problems.append(f"{where}: field 'aspect' is empty")
        if image_dir is not None and not image_id.strip():
            problems.append(f"{where}: field 'image id' is empty but images were requested")
        elif image_id != image_id.strip():
            problems.append(
                f"{where}: field 'image id' {image_id!r} has leading/trailing whitespace (write it as {image_id.strip()!r})"
            )
        if len(problems) > before:
            continue
        samples.append(
            Sample(
                id=index,
                text=tweet.replace(ASPECT_MARK, aspect),
                label=int(label),
                aspect=aspect,
                image_path=image_dir / image_id if image_dir is not None else None,
            )
        )
    if problems:
        raise problems_error(path, problems, FIX_HINT)
    return samples
