"""Robust image loading: any readable file -> an 8-bit RGB PIL image, anything else -> :class:`BadImageError`.

Handled: EXIF orientation (``ImageOps.exif_transpose``), grayscale / bilevel / palette / CMYK / YCbCr,
transparency (RGBA, LA, palette or grayscale with a transparent colour: composited on white), 16/32-bit
integer grayscale (scaled from the 16-bit range, not clipped). Refused, with one line naming the sample id
and the path: missing, empty, truncated or non-image files and images above ``max_pixels`` (a decompression
bomb guard independent of Pillow's global ``Image.MAX_IMAGE_PIXELS``). Pillow's global settings are left alone.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from clmlf.data.errors import BAD_IMAGES_HINT, MAX_LISTED, BadImageError, problems_error
from clmlf.data.samples import Sample

MAX_PIXELS = 50_000_000
"""Default pixel limit (~7000 x 7000): far above any tweet photo, far below a memory-exhausting bomb."""

OnBadImage = Literal["error", "skip"]


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; transparent pixels become white."""
    if image.mode.startswith("I"):  # I, I;16, I;16B, ...: 16-bit grayscale PNG/TIFF
        scaled = np.asarray(image, dtype=np.float64) / 257.0
        image = Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")
    if image.mode in {"RGBA", "LA", "PA", "RGBa", "La"} or image.has_transparency_data:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(path: str | Path | BinaryIO, sample_id: str | None = None, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The image at ``path`` (or in an open binary file, e.g. ``io.BytesIO(upload)``, named ``<upload>`` in errors) as
    an upright 8-bit RGB image of its full size.

    Raises :class:`BadImageError` (naming ``sample_id`` and ``path``) for anything that is not a usable image.
    """
    upload = hasattr(path, "read")
    source = path if upload else Path(path)
    path = Path("<upload>") if upload else source
    try:
        if not upload and path.exists() and not path.is_file():  # a FIFO would block the read, a device never end it
            raise BadImageError(path, "not a regular file (a folder, FIFO or device)", sample_id)
        if not upload and path.is_file() and path.stat().st_size == 0:
            raise BadImageError(path, "the file is empty", sample_id)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                width, height = image.size
                if width * height > max_pixels:
                    reason = f"{width}x{height} = {width * height} pixels exceeds the limit of {max_pixels} (decompression bomb?)"
                    raise BadImageError(path, reason, sample_id)
                ImageOps.exif_transpose(image, in_place=True)  # loads; _to_rgb's copy outlives the closed file
                return _to_rgb(image)
    except BadImageError:
        raise
    except FileNotFoundError:
        raise BadImageError(path, "no such file", sample_id) from None
    except UnidentifiedImageError:
        raise BadImageError(path, "not an image file Pillow can read", sample_id) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise BadImageError(path, f"decompression bomb guard: {error}", sample_id) from None
    except Exception as error:  # truncated or corrupt data, directories, broken EXIF: Pillow raises many types
        raise BadImageError(path, f"unreadable image data ({type(error).__name__}: {error})", sample_id) from None


@dataclass(frozen=True)
class ImageCheck:
    """What :func:`check_images` found: the samples to keep and one :class:`BadImageError` per dropped sample."""

    kept: list[Sample]
    bad: list[BadImageError]

    @property
    def skipped(self) -> int:
        return len(self.bad)

    def summary(self) -> str:
        """``"kept 448 of 450 samples; skipped 2 with bad images"`` plus one line per skipped image (first few)."""
        total = len(self.kept) + len(self.bad)
        lines = [f"kept {len(self.kept)} of {total} samples; skipped {self.skipped} with bad images"]
        lines += [f"  - {error.brief()}" for error in self.bad[:MAX_LISTED]]
        return "\n".join(lines)


def check_images(samples: Sequence[Sample], on_bad_image: OnBadImage = "error", max_pixels: int = MAX_PIXELS,
                 source: str = "") -> ImageCheck:
    """Fully decode every sample's image once (samples without ``image_path`` pass).

    ``on_bad_image="error"`` raises one :class:`~clmlf.data.errors.DataError` listing every bad image after the scan;
    ``"skip"`` returns them in :attr:`ImageCheck.bad` and keeps the rest, in order. ``source`` (e.g.
    ``"mvsa_single/train"``) names the samples in the error.
    """
    if on_bad_image not in ("error", "skip"):
        raise ValueError(f"on_bad_image must be 'error' or 'skip', got {on_bad_image!r}")
    kept: list[Sample] = []
    bad: list[BadImageError] = []
    for sample in samples:
        if sample.image_path is not None:
            try:
                load_image(sample.image_path, sample.id, max_pixels).close()
            except BadImageError as error:
                bad.append(error)
                continue
        kept.append(sample)
    if bad and on_bad_image == "error":
        raise problems_error(
            f"image check of {len(samples)} samples{f' ({source})' if source else ''}",
            [error.brief() for error in bad],
            BAD_IMAGES_HINT,
        )
    return ImageCheck(kept, bad)
