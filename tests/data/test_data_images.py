"""load_image turns every odd-but-valid file into upright 8-bit RGB and every bad one into a one-line BadImageError."""

from __future__ import annotations

import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clmlf.data.errors import BadImageError, DataError
from clmlf.data.images import check_images, load_image
from clmlf.data.samples import Sample


def _save(image: Image.Image, path: Path, **kwargs) -> Path:
    image.save(path, **kwargs)
    return path


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose IHDR claims ``width x height`` (no pixel data needed to trip the size checks)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize(
    "mode, color, suffix",
    [
        ("RGB", (200, 10, 10), "jpg"),
        ("CMYK", (0, 255, 255, 0), "jpg"),
        ("L", 77, "png"),
        ("1", 1, "png"),
        ("LA", (77, 255), "png"),
        ("I;16", 32896, "png"),
        ("RGB", (1, 2, 3), "bmp"),
        ("RGB", (1, 2, 3), "webp"),
    ],
)
def test_modes_load_as_rgb_with_size(tmp_path, mode, color, suffix):
    path = _save(Image.new(mode, (13, 7), color), tmp_path / f"x.{suffix}")
    image = load_image(path, "s1")
    assert image.mode == "RGB" and image.size == (13, 7)


def test_cmyk_jpeg_colour_survives(tmp_path):
    path = _save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), tmp_path / "cmyk.jpg", quality=95)
    red, green, blue = load_image(path).getpixel((8, 8))
    assert red > 200 and green < 60 and blue < 60


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    array = np.full((6, 9), 128 * 257, dtype=np.uint16)
    path = _save(Image.fromarray(array), tmp_path / "deep.png")
    with Image.open(path) as raw:
        assert raw.mode.startswith("I")
    assert load_image(path).getpixel((0, 0)) == (128, 128, 128)


def test_palette_transparency_and_alpha_composite_on_white(tmp_path):
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    palette.putpixel((0, 0), 0)
    path = _save(palette, tmp_path / "p.png", transparency=0)
    image = load_image(path)
    assert image.getpixel((0, 0)) == (255, 255, 255) and image.getpixel((1, 1)) == (0, 0, 255)

    rgba = Image.new("RGBA", (2, 1), (255, 0, 0, 0))
    rgba.putpixel((1, 0), (0, 0, 255, 255))
    image = load_image(_save(rgba, tmp_path / "rgba.png"))
    assert image.getpixel((0, 0)) == (255, 255, 255) and image.getpixel((1, 0)) == (0, 0, 255)


def test_one_pixel(tmp_path):
    assert load_image(_save(Image.new("RGB", (1, 1)), tmp_path / "one.png")).size == (1, 1)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (0, 128, 0))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = _save(image, tmp_path / "rotated.jpg", exif=exif)
    assert load_image(path).size == (20, 40)


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    return path


def _text(tmp_path: Path) -> Path:
    path = tmp_path / "text.jpg"
    path.write_text("not an image")
    return path


def _truncated(tmp_path: Path) -> Path:
    full = _save(Image.effect_noise((64, 64), 50).convert("RGB"), tmp_path / "full.jpg")
    path = tmp_path / "truncated.jpg"
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    return path


@pytest.mark.parametrize(
    "make, reason",
    [
        (_empty, "empty"),
        (_truncated, "unreadable image data"),
        (_text, "not an image"),
        (lambda tmp: tmp / "missing.jpg", "no such file"),
        (lambda tmp: tmp, "not a regular file"),
        (lambda tmp: _png_header_only(tmp / "bomb.png", 100_000, 100_000), "decompression bomb"),
    ],
    ids=["empty", "truncated", "not-an-image", "missing", "directory", "pillow-bomb"],
)
def test_bad_files_give_one_line_error_with_id_and_path(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(BadImageError) as caught:
        load_image(path, "id42")
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "'id42'" in message and reason in message
    assert "data.on_bad_image: skip" in message
    assert caught.value.sample_id == "id42" and caught.value.path == path
    assert str(pickle.loads(pickle.dumps(caught.value))) == message


def test_pixel_limit_is_ours_not_pillows(tmp_path):
    small = _save(Image.new("RGB", (20, 20)), tmp_path / "small.png")
    with pytest.raises(BadImageError, match="400 pixels exceeds the limit of 100"):
        load_image(small, max_pixels=100)
    between = _png_header_only(tmp_path / "big.png", 10_000, 10_000)  # Pillow warns (> 89M), does not raise
    with pytest.raises(BadImageError, match="decompression bomb"):
        load_image(between, max_pixels=10**9)
    above_ours = _png_header_only(tmp_path / "above.png", 8_000, 8_000)  # 64M: under Pillow's limit, over ours
    with pytest.raises(BadImageError, match="exceeds the limit of 50000000"):
        load_image(above_ours)


def test_check_images_skip_counts_and_keeps_order(tmp_path):
    good = _save(Image.new("RGB", (8, 8)), tmp_path / "good.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    samples = [
        Sample("a", "t", 0, image_path=good),
        Sample("b", "t", 0, image_path=tmp_path / "empty.jpg"),
        Sample("c", "t", 1),
        Sample("d", "t", 1, image_path=tmp_path / "missing.jpg"),
    ]
    check = check_images(samples, on_bad_image="skip")
    assert [s.id for s in check.kept] == ["a", "c"] and check.skipped == 2
    assert [error.sample_id for error in check.bad] == ["b", "d"]
    assert check.summary().startswith("kept 2 of 4 samples; skipped 2 with bad images")
    assert "on_bad_image" not in check.summary(), "skipped already: no advice to skip"

    with pytest.raises(DataError) as caught:
        check_images(samples, source="posts/dev")
    message = str(caught.value)
    assert message.startswith("image check of 4 samples (posts/dev): 2 problems")
    assert "'b'" in message and "'d'" in message and "on_bad_image" in message
    with pytest.raises(ValueError, match="'error' or 'skip'"):
        check_images(samples, on_bad_image="ignore")
