"""SCIM filter expressions (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2), parsed to a tree.

``parse('userName sw "j" and (emails[type eq "work"] or not (title pr))')`` gives nested
``And``/``Or``/``Not``/``Compare``/``Present``/``ValuePath`` nodes; ``parse_path`` reads
``emails[type eq "work"].value``. Errors name the position, never the text found there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from hub.errors import HubError

OPERATORS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")
MAX_LENGTH = 4000
MAX_DEPTH = 32


class FilterError(HubError):
    """A filter or path that does not follow the SCIM grammar."""


@dataclass(frozen=True)
class AttrPath:
    """``[uri:]attr[.sub]``, compared case-insensitively (attribute names are)."""

    uri: str | None
    attr: str
    sub: str | None = None

    @property
    def key(self) -> str:
        return f"{self.attr}.{self.sub}".lower() if self.sub else self.attr.lower()


@dataclass(frozen=True)
class Compare:
    path: AttrPath
    op: str
    value: Any


@dataclass(frozen=True)
class Present:
    path: AttrPath


@dataclass(frozen=True)
class And:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Or:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Not:
    inner: Filter


@dataclass(frozen=True)
class ValuePath:
    """``emails[type eq "work"]``: a multi-valued attribute with a filter on its values."""

    path: AttrPath
    inner: Filter


Filter = Compare | Present | And | Or | Not | ValuePath


@dataclass(frozen=True)
class PatchPath:
    """A PATCH target: an attribute, optionally narrowed to matching values, and a sub-attribute
    (``emails[type eq "work"].value``)."""

    path: AttrPath
    where: Filter | None = None
    sub: str | None = None


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<punct>[()\[\]])
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w:.$-]))
  | (?P<subattr>\.[A-Za-z$][\w$-]*)
  | (?P<word>[A-Za-z$][\w:.$-]*)
""", re.VERBOSE)


_NAME = re.compile(r"[A-Za-z$][\w$-]*")


@dataclass
class _Token:
    kind: str
    text: str
    pos: int


def _tokens(text: str) -> list[_Token]:
    if len(text) > MAX_LENGTH:
        raise FilterError(f"filter longer than {MAX_LENGTH} characters")
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FilterError(f"unexpected character at position {pos + 1}")
        if m.lastgroup != "space":
            out.append(_Token(m.lastgroup or "", m.group(), pos + 1))
        pos = m.end()
    return out


def split_attr(word: str, pos: int = 0) -> AttrPath:
    """``urn:...:User:name.givenName`` -> AttrPath(uri, "name", "givenName")."""
    uri, _, rest = word.rpartition(":")
    if not rest:
        raise FilterError(f"attribute name expected at position {pos}")
    attr, _, sub = rest.partition(".")
    if not _NAME.fullmatch(attr) or (sub and not _NAME.fullmatch(sub)):
        raise FilterError(f"malformed attribute name at position {pos}")
    return AttrPath(uri or None, attr, sub or None)


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.i = 0
        self.depth = 0
        self.end = len(text) + 1

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self, what: str) -> _Token:
        tok = self.peek()
        if tok is None:
            raise FilterError(f"{what} expected at the end of the filter")
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.next(f"'{text}'")
        if tok.text != text:
            raise FilterError(f"'{text}' expected at position {tok.pos}")

    def keyword(self, *words: str) -> str | None:
        tok = self.peek()
        if tok is not None and tok.kind == "word" and tok.text.lower() in words:
            self.i += 1
            return tok.text.lower()
        return None

    # FILTER = term *("or" term); term = factor *("and" factor): "and" binds tighter.
    def filter(self) -> Filter:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(f"filter nested deeper than {MAX_DEPTH} levels")
        node = self.term()
        while self.keyword("or"):
            node = Or(node, self.term())
        self.depth -= 1
        return node

    def term(self) -> Filter:
        node = self.factor()
        while self.keyword("and"):
            node = And(node, self.factor())
        return node

    def factor(self) -> Filter:
        tok = self.next("an expression")
        if tok.text == "(":
            inner = self.filter()
            self.expect(")")
            return inner
        if tok.kind == "word" and tok.text.lower() == "not":
            self.expect("(")
            inner = self.filter()
            self.expect(")")
            return Not(inner)
        if tok.kind != "word":
            raise FilterError(f"attribute name expected at position {tok.pos}")
        path = split_attr(tok.text, tok.pos)
        nxt = self.peek()
        if nxt is not None and nxt.text == "[":
            self.i += 1
            inner = self.filter()
            self.expect("]")
            return ValuePath(path, inner)
        return self.comparison(path)

    def comparison(self, path: AttrPath) -> Filter:
        tok = self.next("an operator")
        op = tok.text.lower()
        if op == "pr":
            return Present(path)
        if tok.kind != "word" or op not in OPERATORS:
            raise FilterError(f"operator expected at position {tok.pos}")
        return Compare(path, op, self.value())

    def value(self) -> Any:
        tok = self.next("a value")
        if tok.kind == "string":
            try:
                return json.loads(tok.text)
            except ValueError:
                raise FilterError(f"malformed string at position {tok.pos}") from None
        if tok.kind == "number":
            return float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
        if tok.kind == "word" and tok.text.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[tok.text.lower()]
        raise FilterError(f"value expected at position {tok.pos}")

    def done(self) -> None:
        tok = self.peek()
        if tok is not None:
            raise FilterError(f"unexpected token at position {tok.pos}")


def parse(text: str) -> Filter:
    """Parse a ``filter`` query parameter."""
    parser = _Parser(text)
    node = parser.filter()
    parser.done()
    return node


def parse_path(text: str) -> PatchPath:
    """Parse a PATCH operation's ``path``."""
    parser = _Parser(text)
    tok = parser.next("an attribute path")
    if tok.kind != "word":
        raise FilterError(f"attribute name expected at position {tok.pos}")
    path = split_attr(tok.text, tok.pos)
    where: Filter | None = None
    sub = None
    nxt = parser.peek()
    if nxt is not None and nxt.text == "[":
        parser.i += 1
        where = parser.filter()
        parser.expect("]")
        after = parser.peek()
        if after is not None:
            parser.i += 1
            if after.kind != "subattr":
                raise FilterError(f"sub-attribute expected at position {after.pos}")
            sub = after.text[1:]
    parser.done()
    return PatchPath(path, where, sub)
