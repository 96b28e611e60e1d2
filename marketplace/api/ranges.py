"""HTTP byte ranges (RFC 9110 §14) for the media views, so a browser's `<audio>` can seek in a clip.

One range only (`bytes=a-b`, `bytes=a-`, `bytes=-n`): a 206 with its `Content-Range`. A header that is not one
well-formed range (several ranges, another unit, `b < a`) is ignored and the whole file sent, as RFC 9110 allows; so
is any `If-Range`, since these responses carry no validator it could match. A range starting at or past the end, or
a zero-length suffix: a 416 with `Content-Range: bytes */size`.

Written here rather than taken from django-ranged-response / django-ranged-fileresponse: both last released in
2017, unmaintained, and each is a larger FileResponse subclass than the 40 lines this needs.
"""

import re
from dataclasses import dataclass
from typing import IO

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class RangeNotSatisfiable(Exception):
    """No byte of the range lies in the file."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def byte_range(header: str | None, size: int) -> ByteRange | None:
    """The one range `header` asks of a file of `size` bytes; None for the whole file (no header, or one ignored).
    Raises `RangeNotSatisfiable`."""
    match = _RANGE.match(header or "")
    if match is None:
        return None
    first, last = match.groups()
    if first:
        start = int(first)
        if last and int(last) < start:
            return None  # invalid: ignored
        if start >= size:
            raise RangeNotSatisfiable
        return ByteRange(start, min(int(last), size - 1) if last else size - 1)
    if not last:
        return None  # "bytes=-": invalid
    suffix = int(last)
    if suffix == 0 or size == 0:
        raise RangeNotSatisfiable
    return ByteRange(max(0, size - suffix), size - 1)


class FileWindow:
    """`length` bytes of `file` from `start`, read as a file (what `FileResponse` streams); closing closes `file`."""

    def __init__(self, file: IO[bytes], byte_range: ByteRange) -> None:
        file.seek(byte_range.start)
        self._file = file
        self._left = byte_range.length

    def read(self, size: int = -1) -> bytes:
        wanted = self._left if size is None or size < 0 else min(size, self._left)
        data = self._file.read(wanted) if wanted > 0 else b""
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._file.close()
