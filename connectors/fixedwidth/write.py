"""Rewriting a fixed-width file with a batch of upserts or deletes applied, atomically.

Like the CSV rewrite: the old file streams into a temp file that replaces it, untouched
lines (unreadable ones included) are copied byte for byte, and a batch of only new keys
on a file as we left it is appended to a byte copy (``connectors.files.keyindex``).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from connectors.files.atomic import append_atomically, atomic_replace
from connectors.files.keyindex import FileMemory
from connectors.files.text import RAW_BYTES, Lines, line_ending
from connectors.fixedwidth.layout import FixedWidthSettings, cut, layout_line

Key = tuple[str, ...]
Emit = Callable[[str], None]


class FixedWidthRewrite:
    """One batch for one file: ``upserts`` by key (values as text) and keys to ``deletes``."""

    def __init__(self, settings: FixedWidthSettings, key: Key, readable: Callable[[str], bool],
                 upserts: dict[Key, dict[str, str]] | None = None,
                 deletes: set[Key] | None = None):
        self.settings = settings
        self.key = key
        self.readable = readable  # is this line body a record (not a problem)?
        self.upserts = upserts or {}
        self.deletes = deletes or set()

    def apply(self, path: Path, memory: FileMemory | None = None) -> FileMemory | None:
        """Write the new file; return what to remember about it for the next batch."""
        exists = path.exists() and path.stat().st_size > 0
        if not self.upserts and (not self.deletes or not exists):
            return memory
        slots = self.settings.ordered_slots
        if memory is not None and not self.deletes and memory.can_append(path, self.upserts):
            newline = memory.layout["newline"]
            lead = [] if memory.layout["ends_with_break"] else [newline]
            lines = [layout_line(v, slots) + newline for v in self.upserts.values()]
            append_atomically(path, self.settings.encoding, lead + lines)
            memory.layout["ends_with_break"] = True
        else:
            memory = self._rewrite(path, exists)
        for found in self.upserts:
            memory.keys.add(found)
        memory.wrote(path)
        return memory

    def _rewrite(self, path: Path, exists: bool) -> FileMemory:
        memory = FileMemory()
        encoder = codecs.getincrementalencoder(self.settings.encoding)(errors=RAW_BYTES)
        with atomic_replace(path) as out:
            def emit(text: str) -> None:
                out.write(encoder.encode(text))

            newline: str = self.settings.newline
            ends_with_break, done = True, set[Key]()
            if exists:
                with open(path, "rb") as fh:
                    newline, ends_with_break = self._merge(fh, emit, done, memory)
            new = [values for found, values in self.upserts.items() if found not in done]
            if new and not ends_with_break:
                emit(newline)
            for values in new:
                emit(layout_line(values, self.settings.ordered_slots) + newline)
            out.write(encoder.encode("", final=True))
        memory.layout = {"newline": newline, "ends_with_break": ends_with_break or bool(new)}
        return memory

    def _merge(self, fh: BinaryIO, emit: Emit, done: set[Key], memory: FileMemory
               ) -> tuple[str, bool]:
        """Copy the old lines with the batch applied.

        Returns the file's line ending (to append with) and whether it ends with one.
        """
        slots, ordered = self.settings.slots, self.settings.ordered_slots
        lines = Lines(fh, self.settings.encoding, keep=False)
        newline, ends_with_break = "", True
        for number, raw in enumerate(lines, start=1):
            if number == 1 and lines.had_bom:
                emit("\ufeff")
            body, end = line_ending(raw)
            newline = newline or end
            if number > self.settings.header_lines and body.strip() and self.readable(body):
                values = cut(body, slots, self.settings.trim)
                found = tuple(values[k] for k in self.key)
                if found in self.deletes:
                    continue
                memory.keys.add(found)
                if found in self.upserts:
                    raw = layout_line(values | self.upserts[found], ordered) + \
                        (end or newline or self.settings.newline)
                    done.add(found)
            emit(raw)  # untouched (even unreadable) lines are kept exactly as they were
            ends_with_break = line_ending(raw)[1] != ""
        return newline or self.settings.newline, ends_with_break
