"""Fixed-width files (the COBOL-era export): one file is one stream, one line one record.

The layout (``connectors.fixedwidth.layout``) says which columns hold which field. A line
that cannot be read (undecodable byte, NUL, wrong length when ``strict_length``) becomes a
problem named by its line number; the rest of the file goes on. Writing and deleting
rewrite the file into a temp file that atomically replaces it; untouched lines are copied
byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from connectors._keys import key_text, key_values
from connectors.base import Capability, ConnectorSettings, Record, StreamSpec, WriteResult
from connectors.files.base import EarlyEnd, FileConnector, writing
from connectors.files.batches import HashingReader
from connectors.files.text import (
    SUSPECT,
    cell_text,
    cut_off,
    cut_off_reason,
    encode_problem,
    first_raw_byte,
    line_ending,
    text_lines,
)
from connectors.fixedwidth.layout import FixedWidthSettings, Slot, cut
from connectors.fixedwidth.write import FixedWidthRewrite
from hub.errors import FatalConnectorError, RecordProblem

Key = tuple[str, ...]


class FixedWidthConnector(FileConnector):
    """Reads, upserts and deletes records of fixed-width files in one directory."""

    kind: ClassVar[str] = "fixedwidth"
    settings_model: ClassVar[type[ConnectorSettings]] = FixedWidthSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.READ, Capability.WRITE, Capability.DELETE, Capability.DISCOVER})
    settings: FixedWidthSettings

    def _fields(self, path: Path, resource: str) -> list[dict[str, str]]:
        return [{"name": s.name, "type": "string"} for s in self.settings.slots]

    # -- read ---------------------------------------------------------------------------

    def _line_problem(self, body: str, slots: list[Slot]) -> tuple[str, str | None] | None:
        """Why a line cannot be read, as (reason, field); never mentions its values."""
        length = self.settings.line_length
        if self.settings.strict_length and len(body) != length:
            return f"line is {len(body)} characters long, the layout needs {length}", None
        if SUSPECT.search(body) is None:
            return None
        for slot in slots:
            value = body[slot.begin:slot.end]
            bad = first_raw_byte(value)
            if bad is not None:
                return (f"cannot decode byte 0x{bad:02x} in field {slot.name} (columns "
                        f"{slot.begin + 1}-{slot.end}) as {self.settings.encoding}"), slot.name
            if "\x00" in value:
                return f"NUL byte in field {slot.name}", slot.name
        bad = first_raw_byte(body)
        if bad is not None:  # outside every field: the layout does not cover it
            return f"cannot decode byte 0x{bad:02x} as {self.settings.encoding}", None
        return None

    def _parse(self, source: HashingReader, path: Path, resource: str
               ) -> Iterator[tuple[dict[str, Any], str] | RecordProblem | EarlyEnd]:
        slots = self.settings.slots
        tail: list[str] = []
        number = 0
        for number, raw in enumerate(text_lines(source, self.settings.encoding, tail),
                                     start=1):
            body = line_ending(raw)[0]
            if number <= self.settings.header_lines or not body.strip():
                continue
            location = f"{resource}:{number}"
            problem = self._line_problem(body, slots)
            if problem:
                yield RecordProblem(reason=problem[0], system=self.system, stream=resource,
                                    location=location, field=problem[1])
            else:
                yield cut(body, slots, self.settings.trim), location
        if cut_off(tail):  # its last record may be a cut one, and records after it are lost
            yield EarlyEnd(f"{resource}: {cut_off_reason(number)}")

    # -- write and delete ---------------------------------------------------------------

    def _readable(self, body: str) -> bool:
        return self._line_problem(body, self.settings.slots) is None

    def _apply(self, path: Path, rewrite: FixedWidthRewrite) -> None:
        with writing(self.system, path):
            self._memory[path] = rewrite.apply(path, self._memory.get(path))

    def _check_stream(self, stream: StreamSpec, action: str) -> None:
        names = {s.name for s in self.settings.slots}
        if not stream.key:
            raise FatalConnectorError(f"{self.system}: stream {stream.resource!r} needs a key "
                                      f"to {action}")
        if missing := [k for k in stream.key if k not in names]:
            raise FatalConnectorError(f"{self.system}: key field(s) not in the layout: "
                                      f"{', '.join(missing)}")

    def write(self, stream: StreamSpec, records: list[Record]) -> WriteResult:
        self._check_stream(stream, "write (upsert by key)")
        names = {s.name for s in self.settings.slots}
        if unknown := sorted({c for r in records for c in r if c not in names}):
            raise FatalConnectorError(
                f"{self.system}: the layout has no field(s) {', '.join(unknown)}; "
                "check the outbound mapping")
        path = self._write_path(stream.resource)
        result = WriteResult()
        pending: dict[Key, dict[str, str]] = {}
        for index, record in enumerate(records, start=1):
            values, problem = self._prepare(stream, record, index)
            if problem is not None:
                result.rejected.append((key_text(stream.key, record, index), problem))
                continue
            pending.setdefault(tuple(values[k] for k in stream.key), {}).update(values)
            result.written += 1
        self._apply(path, FixedWidthRewrite(self.settings, stream.key, self._readable,
                                            upserts=pending))
        return result

    def delete(self, stream: StreamSpec, keys: Sequence[str | Sequence[Any]]) -> WriteResult:
        self._check_stream(stream, "delete")
        path = self._write_path(stream.resource)
        result = WriteResult()
        wanted: set[Key] = set()
        for index, given in enumerate(keys, start=1):
            try:
                wanted.add(key_values(stream.key, given if isinstance(given, str)
                                      else [cell_text(v) for v in given]))
                result.written += 1
            except ValueError as exc:
                result.rejected.append((f"#{index}", RecordProblem(
                    reason=str(exc), system=self.system, stream=stream.resource,
                    location=f"{stream.resource}:delete key {index}")))
        self._apply(path, FixedWidthRewrite(self.settings, stream.key, self._readable,
                                            deletes=wanted))
        return result

    def _prepare(self, stream: StreamSpec, record: Record, index: int
                 ) -> tuple[dict[str, str], RecordProblem | None]:
        width = self.settings.widths
        values: dict[str, str] = {}

        def problem(reason: str, field: str | None) -> tuple[dict[str, str], RecordProblem]:
            return values, RecordProblem(reason=reason, system=self.system,
                                         stream=stream.resource, field=field,
                                         location=f"{stream.resource}:batch record {index}")

        for name, value in record.items():
            text = cell_text(value)
            if len(text) > width[name]:
                return problem(f"value is {len(text)} characters, the field holds "
                               f"{width[name]}", name)
            if any(c in text for c in "\r\n\x00"):
                return problem("contains a line break or NUL byte", name)
            if (position := encode_problem(text, self.settings.encoding)) is not None:
                return problem(f"value has a character that cannot be encoded as "
                               f"{self.settings.encoding} (position {position})", name)
            values[name] = text
        for key in stream.key:
            if values.get(key, "").strip() == "":
                return problem("key field is missing or empty", key)
        return values, None
