"""Reading dataset text files: UTF-8 (a leading byte-order mark is accepted), with errors that name the byte."""

from __future__ import annotations

import codecs
from pathlib import Path

from clmlf.data.errors import DataError

UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def read_text(path: Path) -> str:
    """The text of ``path`` decoded as UTF-8 (without its BOM, if any); :class:`DataError` when unreadable or not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read the file ({error}).") from None
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        raise not_utf8_error(path, data, start + error.start) from None


def not_utf8_error(path: Path, data: bytes, offset: int) -> DataError:
    """The :class:`DataError` for a file whose byte at ``offset`` is not valid UTF-8."""
    line = data[:offset].count(b"\n") + 1
    looks = " (it starts with a UTF-16 byte-order mark: it is UTF-16)" if data.startswith(UTF16_BOMS) else ""
    return DataError(
        f"{path}: not UTF-8 text: byte 0x{data[offset]:02x} at byte offset {offset} (line {line}) is not valid "
        f"UTF-8{looks}. Re-save it as UTF-8 (e.g. `iconv -f <its encoding> -t UTF-8`)."
    )
