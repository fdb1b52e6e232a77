"""Decoding text files line by line without losing a byte (CSV, fixed-width).

Undecodable bytes become lone surrogates U+DC00+byte (like "surrogateescape", but for
every byte value); encoding turns them back into the same bytes. So one bad byte is a
problem for its own line instead of killing the file, and lines copied through a rewrite
stay byte-identical even when they hold bytes the codec cannot read.
"""

from __future__ import annotations

import codecs
import functools
import io
import re
from collections.abc import Iterator
from typing import Any, BinaryIO, Protocol

from hub.errors import FatalConnectorError

#: Name of the codec error handler that keeps undecodable bytes (see the module docstring).
RAW_BYTES = "kontor-raw-bytes"
MAX_LINE = 64 << 20  # a physical line this long means the file is not line-structured
_CHUNK = 1 << 16

_RAW_BYTE = re.compile("[\udc00-\udcff]")
#: Anything that makes a value suspect: a NUL or an undecodable byte (checked in C).
SUSPECT = re.compile("[\x00\udc00-\udcff]")


def _raw_bytes_handler(exc: UnicodeError) -> tuple[str | bytes, int]:
    if isinstance(exc, UnicodeDecodeError):
        bad = exc.object[exc.start:exc.end]
        return "".join(chr(0xDC00 + b) for b in bad), exc.end
    if isinstance(exc, UnicodeEncodeError):
        chunk = exc.object[exc.start:exc.end]
        if all(0xDC00 <= ord(c) <= 0xDCFF for c in chunk):
            return bytes(ord(c) - 0xDC00 for c in chunk), exc.end
    raise exc


codecs.register_error(RAW_BYTES, _raw_bytes_handler)


def first_raw_byte(text: str) -> int | None:
    """The first byte the codec could not decode in ``text``, if any."""
    match = _RAW_BYTE.search(text)
    return None if match is None else ord(match.group()) - 0xDC00


def encode_problem(text: str, encoding: str) -> int | None:
    """1-based position of the first character ``encoding`` cannot write, or None."""
    try:
        text.encode(encoding)
    except UnicodeEncodeError as exc:
        return exc.start + 1
    return None


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Lines:
    """Decoded physical lines of a binary stream, counted, with their raw text kept.

    A UTF-8 byte order mark read with the plain ``utf-8`` codec is dropped from the first
    line and remembered in ``had_bom``, so a rewrite can put it back.
    """

    def __init__(self, raw: BinaryIO | _Readable, encoding: str, *, keep: bool = True):
        self._raw = raw
        self._keep = keep  # False: the caller uses each line as it comes, nothing is kept
        self._decoder = codecs.getincrementaldecoder(encoding)(errors=RAW_BYTES)
        self.count = 0  # physical lines handed out so far
        self.had_bom = False
        self.taken: list[str] = []  # lines handed out since the last take()

    def take(self) -> str:
        """The raw text of the lines handed out since the last call."""
        text = "".join(self.taken)
        self.taken.clear()
        return text

    def __iter__(self) -> Iterator[str]:
        buf = ""
        first = True
        while True:
            chunk = self._raw.read(_CHUNK)
            text = self._decoder.decode(chunk, final=not chunk)
            if first and text:
                first = False
                if text.startswith("\ufeff"):
                    self.had_bom, text = True, text[1:]
            buf += text
            start = 0
            while (end := buf.find("\n", start)) != -1:
                yield self._hand_out(buf[start:end + 1])
                start = end + 1
            buf = buf[start:]
            if len(buf) > MAX_LINE:
                raise FatalConnectorError(f"line {self.count + 1} is longer than "
                                          f"{MAX_LINE >> 20} MiB; is this a text file?")
            if not chunk:
                break
        if buf:
            yield self._hand_out(buf)

    def _hand_out(self, line: str) -> str:
        self.count += 1
        if self._keep:
            self.taken.append(line)
        return line


def line_ending(raw: str) -> tuple[str, str]:
    """Split a line's raw text into its body and its final line break."""
    for end in ("\r\n", "\n", "\r"):
        if raw.endswith(end):
            return raw[: -len(end)], end
    return raw, ""


class RawReader(io.RawIOBase):
    """A ``read(size)`` source (e.g. a hashing reader) as a raw stream ``io`` can buffer."""

    def __init__(self, source: _Readable):
        super().__init__()
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def text_lines(source: _Readable, encoding: str, tail: list[str] | None = None
               ) -> Iterator[str]:
    """Decoded lines (endings kept, "\\r\\n" untouched) at C speed, undecodable bytes kept.

    For reading only: unlike ``Lines`` it keeps no raw text. A leading byte order mark
    is dropped; a line longer than ``MAX_LINE`` is refused before it fills the memory.
    Once the lines are exhausted, the last one (if any) is appended to ``tail``, so the
    caller can tell a file that stops in the middle of a line (``cut_off``).
    """
    text = io.TextIOWrapper(io.BufferedReader(RawReader(source), _CHUNK), encoding=encoding,
                            errors=RAW_BYTES, newline="")
    first = True
    line = ""
    for line in iter(functools.partial(text.readline, MAX_LINE), ""):
        if len(line) == MAX_LINE and not line.endswith("\n"):
            raise FatalConnectorError(f"a line is longer than {MAX_LINE >> 20} MiB; "
                                      "is this a text file?")
        if first:
            first = False
            line = line.removeprefix("\ufeff")
        yield line
    if tail is not None and line:
        tail.append(line)


def cut_off(tail: list[str]) -> bool:
    """Does the last line (from ``text_lines(..., tail)``) lack a line break, as the last
    line of a file cut off in the middle of a line does?"""
    return bool(tail) and not tail[-1].endswith(("\n", "\r")) and bool(tail[-1].strip())


def cut_off_reason(line: int) -> str:
    """Why a file whose last line has no line break counts as ended early."""
    return (f"the file ends in the middle of line {line} (no line break after it), as a "
            "file that was cut off does; end it with a line break if it is complete")


def cell_text(value: object) -> str:
    """A value as text for a flat file: a file cannot tell a null from an empty cell."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
