"""Record fields as XML: which names can be written, and how flat names nest again.

Reading flattens a record element into "@attr", "child", "child.grandchild" and
"child.@attr" (``connectors.xml.records.flatten``). Writing turns such names back into
the same elements and attributes, so what the connector writes it reads back as it was.
Each step of a name must be an XML name; a value may hold any text XML 1.0 allows, which
leaves out most control characters. Messages name fields, never values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from connectors.files.text import cell_text

#: The deepest nesting a field name may ask for ("a.b.c" is 3).
MAX_DEPTH = 32

_START = ("A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff"
          "\u200c\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd"
          "\U00010000-\U000effff")
#: An XML name without a colon (XML Namespaces' NCName).
_NCNAME = re.compile(f"[{_START}][{_START}\\-.0-9\u00b7\u0300-\u036f\u203f-\u2040]*")
#: Characters XML 1.0 does not allow anywhere, not even as a character reference.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

#: A value ready to write: text, repeated texts (one element each), or None (left out).
Value = str | list[str] | None


def xml_name_problem(name: str) -> str | None:
    """Why ``name`` is not an XML name without a colon, or None."""
    if _NCNAME.fullmatch(name):
        return None
    return ("is not an XML name (it must start with a letter or _, and hold only letters, "
            "digits, -, _ and ., no space and no colon)")


def field_name_problem(name: str) -> str | None:
    """Why the field ``name`` cannot be written as XML, or None.

    "a.b" is element b inside element a; "@x" an attribute of the record, "a.@x" one of
    element a; an attribute step can only come last.
    """
    parts = name.split(".")
    if len(parts) > MAX_DEPTH:
        return f"nests deeper than {MAX_DEPTH} elements"
    for number, part in enumerate(parts, start=1):
        attribute = part.startswith("@")
        bare = part[1:] if attribute else part
        if not bare:
            return "has an empty step (two dots, or a dot or @ at an end)"
        if attribute and number < len(parts):
            return f"has the attribute step @{bare} before its end"
        if attribute and bare == "xmlns":
            return "names the attribute xmlns, which declares namespaces"
        problem = xml_name_problem(bare)
        if problem is not None:
            return f"has the step {bare!r}, which {problem}"
    return None


@dataclass(eq=False)  # hashed by identity: writers keep per-shape details
class Shape:
    """What one element holds, each part taken from the record field named."""

    attributes: list[tuple[str, str]] = field(default_factory=list)  # (attribute, field)
    text: str | None = None  # the field giving the element's own text (beside children)
    #: (element name, field) for a leaf; (element name, Shape) for an element with parts.
    children: list[tuple[str, str | Shape]] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)  # every field at or below this one
    #: Only leaf children: the common record, written by the quick loop (``shape_of``).
    flat: bool = False
    #: Fields that hold one value only: attributes, and text beside child elements.
    single: frozenset[str] = frozenset()

    def _single(self) -> set[str]:
        out = {f for _, f in self.attributes}
        if self.text is not None:
            out.add(self.text)
        for _, child in self.children:
            if isinstance(child, Shape):
                out |= child._single()
        return out


def shape_of(names: Iterable[str]) -> Shape:
    """The element tree that field ``names`` (all valid, see ``field_name_problem``) describe,
    in order of first appearance."""
    root = Shape()
    nodes: dict[tuple[str, ...], Shape] = {(): root}
    for name in names:
        *path, last = name.split(".")
        parent = root
        steps: tuple[str, ...] = ()
        for step in path:
            steps += (step,)
            node = nodes.get(steps)
            if node is None:
                node = nodes[steps] = Shape()
                _adopt(parent, step, node)
            node.fields.append(name)
            parent = node
        root.fields.append(name)
        if last.startswith("@"):
            parent.attributes.append((last[1:], name))
        elif (node := nodes.get((*steps, last))) is not None:
            node.text = name  # "a" after "a.b": the text beside a's children
            node.fields.append(name)
        else:
            parent.children.append((last, name))
    root.flat = not root.attributes and all(type(c) is str for _, c in root.children)
    root.single = frozenset(root._single())
    return root


def _adopt(parent: Shape, step: str, node: Shape) -> None:
    """Put ``node`` under ``parent``; a leaf of the same name ("a" before "a.b") becomes
    its text, and keeps its place."""
    for at, (name, child) in enumerate(parent.children):
        if name == step and type(child) is str:
            node.text = child
            node.fields.append(child)
            parent.children[at] = (step, node)
            return
    parent.children.append((step, node))


def _text(value: Any) -> str:
    return "" if value is None else cell_text(value)


_ONE_VALUE = "is an attribute (or text beside child elements) and holds one value, not a list"
_NESTED = ("holds a nested object; name its parts as fields of their own, with dots "
           "(address.city)")


def prepare(record: dict[str, Any], single: frozenset[str]
            ) -> tuple[dict[str, Value], tuple[str, str] | None]:
    """The record's values as text, or (reason, field) for the first one XML cannot hold.

    ``single``: fields that take one value (``Shape.single``).
    """
    values: dict[str, Value] = {}
    texts: list[str] = []
    for name, value in record.items():
        if type(value) is str:
            values[name] = value
            texts.append(value)
        elif value is None:
            values[name] = None
        elif isinstance(value, (list, tuple)):
            if name in single:
                return values, (_ONE_VALUE, name)
            values[name] = items = [_text(v) for v in value]
            texts += items
        elif isinstance(value, dict):
            return values, (_NESTED, name)
        else:
            values[name] = text = cell_text(value)
            texts.append(text)
    # One search for the whole record; only a failing one is searched field by field.
    if _NOT_XML.search("".join(texts)) is not None:
        for name, value in values.items():
            for text in [value] if type(value) is str else value or ():
                if (found := _NOT_XML.search(text)) is not None:
                    reason = (f"holds a character XML 1.0 does not allow (U+"
                              f"{ord(found.group()):04X} at position {found.start() + 1})")
                    return values, (reason, name)
    return values, None
