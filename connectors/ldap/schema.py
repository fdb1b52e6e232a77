"""What the directory's schema says about an object class and its attributes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Syntaxes whose values are bytes, not text (RFC 4517 and common extensions): never read
# as record values. userPassword (Octet String) is among them, so hashes never leave.
BINARY_SYNTAXES = frozenset({
    "1.3.6.1.4.1.1466.115.121.1.4",   # audio
    "1.3.6.1.4.1.1466.115.121.1.5",   # binary
    "1.3.6.1.4.1.1466.115.121.1.8",   # certificate
    "1.3.6.1.4.1.1466.115.121.1.9",   # certificate list
    "1.3.6.1.4.1.1466.115.121.1.10",  # certificate pair
    "1.3.6.1.4.1.1466.115.121.1.28",  # JPEG
    "1.3.6.1.4.1.1466.115.121.1.40",  # octet string
})
_TYPES = {
    "1.3.6.1.4.1.1466.115.121.1.7": "boolean",
    "1.3.6.1.4.1.1466.115.121.1.24": "datetime",
    "1.3.6.1.4.1.1466.115.121.1.27": "integer",
}


@dataclass(frozen=True)
class Attribute:
    name: str  # the schema's spelling
    syntax: str | None
    single: bool
    read_only: bool  # NO-USER-MODIFICATION (operational: modifyTimestamp, entryUUID)

    @property
    def binary(self) -> bool:
        return self.syntax in BINARY_SYNTAXES

    @property
    def type(self) -> str:
        return _TYPES.get(self.syntax or "", "binary" if self.binary else "string")


class Schema:
    """Attribute and object class lookups over ``ldap3``'s parsed subschema."""

    def __init__(self, raw: Any):
        self.raw = raw
        self._cache: dict[str, Attribute | None] = {}

    def attribute(self, name: str) -> Attribute | None:
        """The attribute type ``name`` (any alias, any case), or None when unknown."""
        key = name.lower()
        if key not in self._cache:
            info = self.raw.attribute_types.get(name)
            self._cache[key] = None if info is None else Attribute(
                info.name[0], self._syntax(info), bool(info.single_value),
                bool(info.no_user_modification))
        return self._cache[key]

    def _syntax(self, info: Any) -> str | None:
        """The syntax OID, inherited from the superior type when not stated."""
        seen = 0
        while info is not None and not info.syntax and info.superior and seen < 10:
            info, seen = self.raw.attribute_types.get(info.superior[0]), seen + 1
        return str(info.syntax).split("{")[0] if info is not None and info.syntax else None

    def chain(self, object_class: str) -> list[str]:
        """``object_class`` and its superiors, most specific first (for new entries)."""
        names: list[str] = []
        todo = [object_class]
        while todo:
            info = self.raw.object_classes.get(todo.pop(0))
            if info is None or info.name[0] in names:
                continue
            names.append(info.name[0])
            todo.extend(info.superior or [])
        return names

    def attributes_of(self, object_class: str) -> tuple[list[str], list[str]]:
        """(required, optional) attribute names of ``object_class`` with its superiors."""
        must: list[str] = []
        may: list[str] = []
        for name in self.chain(object_class):
            info = self.raw.object_classes[name]
            must.extend(a for a in info.must_contain or [] if a not in must)
            may.extend(a for a in info.may_contain or [] if a not in may)
        return must, [a for a in may if a not in must]

    def known(self, object_class: str) -> bool:
        return self.raw.object_classes.get(object_class) is not None

    def unknown(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if self.attribute(n) is None]
