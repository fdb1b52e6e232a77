"""Split one column into parts and join parts into one column: names and street addresses.

``name``: "Schmidt, Anna" and "Dr. Anna Maria Schmidt" both give first "Anna (Maria)" and
last "Schmidt"; particles stay with the last name ("Ludwig van Beethoven" -> "van
Beethoven"). ``street``: "Hauptstraße 5a" gives street "Hauptstraße" and number "5a"; so
does the number-first "5a Hauptstraße" style of France, Britain and the US. ``text``: plain
split on a separator.
"""

from __future__ import annotations

import re

SPLITTERS = ("name", "street", "text")
PARTS = {"name": ("first", "last"), "street": ("street", "number"), "text": ()}

_TITLES = {"dr", "prof", "herr", "frau", "hr", "fr", "mr", "mrs", "ms", "miss", "mme",
           "mlle", "m", "dipl", "ing", "mag", "sir"}
_PARTICLES = {"von", "van", "de", "der", "den", "zu", "zum", "zur", "vom", "la", "le",
              "du", "da", "di", "del", "della", "dos", "das", "ten", "ter", "af", "al"}
_NUMBER = r"\d+\s*[a-zA-Z]?(?:\s*[-/]\s*\d+\s*[a-zA-Z]?)?"
_NUMBER_LAST = re.compile(rf"^(?P<street>.*?\D)[\s,]+(?P<number>{_NUMBER})$")
_NUMBER_FIRST = re.compile(rf"^(?P<number>{_NUMBER})\s*,?\s+(?P<street>\D.*)$")


def split_name(text: str) -> tuple[str | None, str | None]:
    """(first, last) of a full name."""
    if "," in text:
        last, _, first = text.partition(",")
        return (" ".join(first.split()) or None, " ".join(last.split()) or None)
    words = [w for w in text.split()]
    while len(words) > 1 and words[0].rstrip(".").casefold() in _TITLES:
        words.pop(0)
    if not words:
        return None, None
    if len(words) == 1:
        return None, words[0]
    cut = len(words) - 1
    while cut > 1 and words[cut - 1].casefold() in _PARTICLES:
        cut -= 1
    return " ".join(words[:cut]), " ".join(words[cut:])


def split_street(text: str) -> tuple[str | None, str | None]:
    """(street, house number) of a street address; the number None when there is none."""
    text = " ".join(text.split())
    m = _NUMBER_LAST.match(text) or _NUMBER_FIRST.match(text)
    if m is None:
        return text or None, None
    return m.group("street").strip(" ,") or None, m.group("number").replace(" ", "")


def split(kind: str, text: str, *, separator: str = " ", count: int = 2
          ) -> tuple[str | None, ...]:
    """The parts of ``text`` for splitter ``kind``."""
    if kind == "name":
        return split_name(text)
    if kind == "street":
        return split_street(text)
    parts = text.split(separator, count - 1)
    return tuple(p.strip() or None for p in parts) + (None,) * (count - len(parts))


def join(kind: str, parts: list[object], *, separator: str = " ") -> str | None:
    """Join parts (blank ones left out); a name is "first last", a street "street number"."""
    texts = [str(p).strip() for p in parts if p is not None and str(p).strip()]
    return (separator if kind == "text" else " ").join(texts) or None
