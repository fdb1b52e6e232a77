"""Plant unique canary values in restricted fields, then search every output for them."""

from __future__ import annotations

import base64
import html
import re
import sqlite3
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path

# HR export tag -> canonical field; every one of them is restricted.
RESTRICTED_TAGS = {
    "krankheitsgrund": "sick_leave_reason",
    "schwerbehinderung": "disability_status",
    "fuehrungszeugnis": "criminal_record_check",
    "abmahnungen": "disciplinary_notes",
    "iban": "iban",
    "ausweisnummer": "national_id",
    "sozialversicherungsnummer": "social_security_number",
}


def plant(xml: Path) -> dict[str, list[str]]:
    """Give every employee a unique canary in every restricted field; field -> canaries."""
    text = xml.read_text(encoding="utf-8")
    planted: dict[str, list[str]] = {}
    for tag, field in RESTRICTED_TAGS.items():
        counter = iter(range(100_000))
        values: list[str] = []

        def fresh(_: re.Match[str], tag: str = tag, values: list[str] = values,
                  counter: Iterator[int] = counter) -> str:
            value = f"QX{tag[:5].upper()}{next(counter):04d}ZQ"
            values.append(value)
            return f"<{tag}>{value}</{tag}>"

        text = re.sub(rf"<{tag}>[^<]*</{tag}>|<{tag}\s*/>", fresh, text)
        assert values, f"no <{tag}> in the export"
        planted[field] = values
    xml.write_text(text, encoding="utf-8")
    return planted


def encodings(value: str) -> set[str]:
    """The forms a leaked value could take in an output."""
    raw = value.encode()
    return {value, value.lower(), value.upper(), urllib.parse.quote_plus(value),
            html.escape(value), base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("=")}


def output_texts(folder: Path, exclude: Iterable[str]) -> dict[str, str]:
    """Every file the hub wrote, as text: SQLite databases dumped and read raw."""
    skip = tuple(exclude)
    texts: dict[str, str] = {}
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if not path.is_file() or rel.startswith(skip):
            continue
        raw = path.read_bytes()
        texts[rel] = raw.decode("utf-8", "replace")
        if raw.startswith(b"SQLite format 3"):
            texts[rel + " (dump)"] = "\n".join(sqlite3.connect(path).iterdump())
    return texts


def leaks(texts: dict[str, str], canaries: Iterable[str]) -> list[tuple[str, str]]:
    """(where, canary) for every canary found in any of its encodings."""
    forms = {form: c for c in canaries for form in encodings(c)}
    pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))
    found = []
    for where, text in texts.items():
        for match in pattern.finditer(text):
            found.append((where, forms[match.group()]))
    return found
