"""A tiny, safe expression language for computed fields (never ``eval``).

An expression is parsed once, when the mapping loads, into a tree of plain tuples and
evaluated per record by a small interpreter that knows only the operators and functions
below: no attribute access, no indexing, no imports, no loops, so a mapping file cannot run
code. Names are source columns inbound (`` `E-Mail` `` quotes a column with odd
characters) and canonical fields outbound; a missing name is ``null``.

    upper(coalesce(Land, 'DE'))
    if(Firma != '', 'organisation', 'person')
    trim(Vorname) & ' ' & trim(Nachname)

Operators, loosest first: ``or``, ``and``, ``not``, comparisons (``== != < <= > >=``),
``&`` (text concatenation, null as empty), ``+ -``, ``* /``, unary ``-``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.errors import MappingError

Node = tuple[Any, ...]

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+(?:\.\d+)?) |
    (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*") |
    (?P<quoted>`[^`]+`) |
    (?P<name>[A-Za-z_][A-Za-z0-9_]*) |
    (?P<op>==|!=|<=|>=|[<>&+\-*/(),])
)""", re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "true", "false", "null"}
#: Deepest nesting of parentheses, calls and unary operators an expression may have.
MAX_DEPTH = 50
#: Deepest tree a (long, flat) chain of operators may build, e.g. ``a & b & c & ...``.
MAX_TREE_DEPTH = 200
_BINARY = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
           "&": 5, "+": 6, "-": 6, "*": 7, "/": 7}


class ExpressionError(ValueError):
    """The expression text is not valid; raised when the mapping loads."""


def _text(v: Any) -> str:
    return "" if v is None else str(v)


def _num(v: Any) -> Decimal:
    try:
        return v if isinstance(v, Decimal) else Decimal(str(v).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise MappingError("expression: not a number") from None


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


#: name -> (minimum args, maximum args or None, function)
FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., Any]]] = {
    "upper": (1, 1, lambda v: None if v is None else _text(v).upper()),
    "lower": (1, 1, lambda v: None if v is None else _text(v).lower()),
    "title": (1, 1, lambda v: None if v is None else _text(v).title()),
    "trim": (1, 1, lambda v: None if v is None else " ".join(_text(v).split())),
    "len": (1, 1, lambda v: len(_text(v))),
    "left": (2, 2, lambda v, n: None if v is None else _text(v)[:int(_num(n))]),
    "right": (2, 2, lambda v, n: None if v is None else _text(v)[-int(_num(n)):]),
    "replace": (3, 3, lambda v, a, b: None if v is None else _text(v).replace(_text(a),
                                                                             _text(b))),
    "concat": (1, None, lambda *vs: "".join(_text(v) for v in vs)),
    "coalesce": (1, None, lambda *vs: next((v for v in vs if not _blank(v)), None)),
    "empty": (1, 1, _blank),
    "contains": (2, 2, lambda v, part: _text(part) in _text(v)),
}


class _Parser:
    def __init__(self, text: str):
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise ExpressionError(f"unexpected character at position {pos + 1}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0
        self.depth = -1  # the whole expression is level 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ExpressionError(f"expected {value!r}" if value else "unexpected end")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.binary(0)
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def binary(self, min_power: int) -> Node:
        left = self.unary()
        while (tok := self.peek()) is not None and tok[1] in _BINARY \
                and _BINARY[tok[1]] > min_power:
            self.take()
            left = ("bin", tok[1], left, self.binary(_BINARY[tok[1]]))
        return left

    def unary(self) -> Node:
        # every nesting (parentheses, call arguments, not, unary minus) passes here
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"nested too deeply (more than {MAX_DEPTH} levels of "
                                  "parentheses, calls or unary operators)")
        try:
            return self._unary()
        finally:
            self.depth -= 1

    def _unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok[1] == "not":
            self.take()
            return ("not", self.binary(3))
        if tok is not None and tok[1] == "-":
            self.take()
            return ("neg", self.unary())
        return self.atom()

    def atom(self) -> Node:
        kind, value = self.take()
        if kind == "num":
            return ("lit", Decimal(value))
        if kind == "str":
            return ("lit", re.sub(r"\\(.)", r"\1", value[1:-1]))
        if kind == "quoted":
            return ("name", value[1:-1])
        if value == "(":
            node = self.binary(0)
            self.take(")")
            return node
        if kind != "name":
            raise ExpressionError(f"unexpected {value!r}")
        if value in ("true", "false", "null"):
            return ("lit", {"true": True, "false": False, "null": None}[value])
        if value in _KEYWORDS:
            raise ExpressionError(f"unexpected {value!r}")
        tok = self.peek()
        if tok is None or tok[1] != "(":
            return ("name", value)
        self.take("(")
        args: list[Node] = []
        if self.peek() is not None and self.peek()[1] != ")":  # type: ignore[index]
            args.append(self.binary(0))
            while self.peek() is not None and self.peek()[1] == ",":  # type: ignore[index]
                self.take(",")
                args.append(self.binary(0))
        self.take(")")
        return self.call(value, args)

    @staticmethod
    def call(name: str, args: list[Node]) -> Node:
        if name == "if":
            if len(args) != 3:
                raise ExpressionError("if() takes 3 arguments: condition, then, else")
            return ("if", *args)
        if name not in FUNCTIONS:
            raise ExpressionError(f"unknown function {name!r}; known: if, "
                                  f"{', '.join(FUNCTIONS)}")
        low, high, _ = FUNCTIONS[name]
        if len(args) < low or (high is not None and len(args) > high):
            raise ExpressionError(f"{name}() takes {low}" + ("" if high == low else
                                  f" to {high or 'any number of'}") + " argument(s)")
        return ("call", name, *args)


def _compare(op: str, a: Any, b: Any) -> bool:
    if op in ("==", "!="):
        if isinstance(a, (int, Decimal)) or isinstance(b, (int, Decimal)):
            try:
                same = _num(a) == _num(b)
            except MappingError:
                same = False
        else:
            same = (None if _blank(a) else a) == (None if _blank(b) else b)
        return same if op == "==" else not same
    if a is None or b is None:
        return False
    if isinstance(a, (int, Decimal)) or isinstance(b, (int, Decimal)):
        a, b = _num(a), _num(b)
    else:
        a, b = _text(a), _text(b)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _truthy(v: Any) -> bool:
    return not _blank(v) and v is not False and v != 0


def _eval(node: Node, env: Mapping[str, Any]) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "name":
        return env.get(node[1])
    if kind == "not":
        return not _truthy(_eval(node[1], env))
    if kind == "neg":
        return -_num(_eval(node[1], env))
    if kind == "if":
        return _eval(node[2] if _truthy(_eval(node[1], env)) else node[3], env)
    if kind == "call":
        return FUNCTIONS[node[1]][2](*(_eval(a, env) for a in node[2:]))
    op, left = node[1], _eval(node[2], env)
    if op == "and":
        return _truthy(left) and _truthy(_eval(node[3], env))
    if op == "or":
        return _truthy(left) or _truthy(_eval(node[3], env))
    right = _eval(node[3], env)
    if op == "&":
        return _text(left) + _text(right)
    if op in ("+", "-", "*", "/"):
        if left is None or right is None:
            return None
        a, b = _num(left), _num(right)
        if op == "/" and b == 0:
            raise MappingError("expression: division by zero")
        return {"+": a + b, "-": a - b, "*": a * b}[op] if op != "/" else a / b
    return _compare(op, left, right)


def _tree_depth(tree: Node) -> int:
    """Depth of ``tree``, without recursion (it may be deep)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((n, depth + 1) for n in node[1:] if isinstance(n, tuple))
    return deepest


def _names(node: Node) -> set[str]:
    if node[0] == "name":
        return {node[1]}
    return set().union(*(_names(n) for n in node[1:] if isinstance(n, tuple)))


class Expression:
    """A parsed expression: ``names`` it reads, ``evaluate(env)`` per record."""

    def __init__(self, text: str):
        self.text = text
        try:
            self.tree = _Parser(text).parse()
        except RecursionError:  # the depth limit should come first; never a bare one
            raise ExpressionError("nested too deeply") from None
        if _tree_depth(self.tree) > MAX_TREE_DEPTH:
            raise ExpressionError(f"too long a chain of operators (deeper than "
                                  f"{MAX_TREE_DEPTH}); split it into computed steps or "
                                  "use concat()/coalesce()")
        self.names = frozenset(_names(self.tree))

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        return _eval(self.tree, env)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"
