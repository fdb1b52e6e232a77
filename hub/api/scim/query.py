"""SCIM filters and sorting as SQL on the golden employee table.

Only attributes backed by a plain column the caller sees in clear can be filtered or
sorted on: filtering on a hidden or sealed field would reveal it by elimination.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    String,
    Table,
    and_,
    false,
    func,
    not_,
    or_,
    true,
)

from hub.api.scim.attributes import ADDRESS, attr_key
from hub.api.scim.filter import (
    And,
    AttrPath,
    Compare,
    Filter,
    FilterError,
    Not,
    Or,
    Present,
    ValuePath,
    split_attr,
)
from hub.api.scim.patch import matches

Slot = dict[str, Any]  # sub-attribute -> column name (str) or constant (in a tuple)
_SIMPLE = {"id": "id", "externalid": "external_id", "name.givenname": "first_name",
           "name.familyname": "last_name", "title": "job_title",
           "enterprise:employeenumber": "employee_number",
           "enterprise:department": "department",
           "meta.lastmodified": "updated_at", "meta.created": "created_at"}
_BOOKKEEPING = {"id", "updated_at", "created_at"}
_CASE_EXACT = {"id", "externalid"}  # RFC 7643 §3.1
_SLOTS: dict[str, list[Slot]] = {
    "emails": [{"type": ("work",), "primary": (True,), "value": "work_email"},
               {"type": ("home",), "primary": (False,), "value": "private_email"}],
    "phonenumbers": [{"type": ("work",), "value": "phone"}],
    "addresses": [{"type": ("home",), **ADDRESS}],
}
_MAIN = {"emails": "value", "phonenumbers": "value", "addresses": "locality"}


class Translator:
    """Builds WHERE and ORDER BY clauses; ``FilterError`` for anything it cannot honour."""

    def __init__(self, table: Table, kontor: Iterable[str], filterable: Callable[[str], bool],
                 today: dt.date | None = None):
        self.table = table
        self.kontor = [k for k in kontor if k in table.c]  # custom fields live in JSON
        self.filterable = filterable
        self.today = today or dt.date.today()

    def _column(self, field: str) -> Any:
        if field not in _BOOKKEEPING and not self.filterable(field):
            raise FilterError(f"attribute for field {field!r} cannot be filtered or sorted "
                              "on by this client")
        return self.table.c[field]

    def _user_name(self) -> Any:
        """userName as shown (attributes.shown_user_name): ``user_name``, else the work
        e-mail, else the id; both fields must be in clear, the e-mail standing in."""
        return func.coalesce(self._column("user_name"), self._column("work_email"),
                             self.table.c.id)

    def _simple(self, key: str) -> str | None:
        if key in _SIMPLE:
            return _SIMPLE[key]
        if key.startswith("kontor:"):
            names = {k.lower(): k for k in self.kontor}
            return names.get(key[7:])
        return None

    def where(self, node: Filter) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(self.where(node.left), self.where(node.right))
        if isinstance(node, Or):
            return or_(self.where(node.left), self.where(node.right))
        if isinstance(node, Not):
            return not_(self.where(node.inner))
        key = attr_key(node.path, self.kontor)
        base = key.split(".")[0]
        if isinstance(node, ValuePath):
            if node.path.sub or base not in _SLOTS:
                raise FilterError("value filters work on emails, phoneNumbers, addresses")
            return or_(*(self._in_slot(node.inner, slot, base) for slot in _SLOTS[base]))
        if base in _SLOTS:
            sub = node.path.sub or _MAIN[base]
            inner: Filter = Present(AttrPath(None, sub)) if isinstance(node, Present) else \
                Compare(AttrPath(None, sub), node.op, node.value)
            return or_(*(self._in_slot(inner, slot, base) for slot in _SLOTS[base]))
        if key == "active":
            return self._active(node)
        if key == "username":
            return self._compare(self._user_name(), node, caseless=True)
        field = self._simple(key)
        if field is None:
            raise FilterError("the filter names an attribute that cannot be filtered on")
        return self._compare(self._column(field), node,
                             caseless=key not in _CASE_EXACT)

    def _in_slot(self, node: Filter, slot: Slot, base: str) -> ColumnElement[bool]:
        exists = self._column(slot[_MAIN[base]]).is_not(None)
        return and_(exists, self._slot_where(node, slot))

    def _slot_where(self, node: Filter, slot: Slot) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(self._slot_where(node.left, slot), self._slot_where(node.right, slot))
        if isinstance(node, Or):
            return or_(self._slot_where(node.left, slot), self._slot_where(node.right, slot))
        if isinstance(node, Not):
            return not_(self._slot_where(node.inner, slot))
        if isinstance(node, ValuePath):
            raise FilterError("value filters cannot be nested")
        held = slot.get(node.path.attr.lower())
        if held is None:
            raise FilterError("unknown sub-attribute in a value filter")
        if isinstance(held, tuple):  # a constant such as type "work"
            return true() if matches({node.path.attr.lower(): held[0]}, node) else false()
        return self._compare(self._column(held), node, caseless=True)

    def _compare(self, column: Any, node: Compare | Present, *, caseless: bool
                 ) -> ColumnElement[bool]:
        if isinstance(node, Present):
            return and_(column.is_not(None), column != "") if _is_text(column) else \
                column.is_not(None)
        value = node.value
        if value is None:
            if node.op not in ("eq", "ne"):
                raise FilterError("null can only be compared with eq or ne")
            return column.is_(None) if node.op == "eq" else column.is_not(None)
        if isinstance(value, bool):
            raise FilterError("true/false compare only with boolean attributes")
        if _is_text(column):
            if not isinstance(value, str):
                value = str(value)
            left = func.lower(column) if caseless else column
            value = value.lower() if caseless else value
        else:
            left, value = column, _typed(column, value)
        if node.op == "ne":
            return or_(column.is_(None), left != value)
        if node.op in ("co", "sw", "ew"):
            if not isinstance(value, str):
                raise FilterError("co, sw and ew compare only text attributes")
            method = {"co": "contains", "sw": "startswith", "ew": "endswith"}[node.op]
            return getattr(left, method)(value, autoescape=True)  # type: ignore[no-any-return]
        ops = {"eq": left == value, "gt": left > value, "ge": left >= value,
               "lt": left < value, "le": left <= value}
        return ops[node.op]  # type: ignore[return-value]

    def _active(self, node: Filter) -> ColumnElement[bool]:
        term = self._column("termination_date")
        active = or_(term.is_(None), term > self.today)
        if isinstance(node, Present):
            return true()
        if not isinstance(node, Compare) or node.op not in ("eq", "ne") \
                or not isinstance(node.value, bool):
            raise FilterError("active compares with eq or ne and true or false")
        wanted = node.value if node.op == "eq" else not node.value
        return active if wanted else not_(active)

    def order_by(self, sort_by: str, descending: bool) -> list[Any]:
        key = attr_key(split_attr(sort_by), self.kontor)
        if key in _SLOTS:
            key = {"emails": "emails.value"}.get(key, key)
        if key == "username":
            column = self._user_name()
        elif key == "emails.value":  # the primary value: the work e-mail
            column = self._column("work_email")
        else:
            field = self._simple(key)
            if field is None:
                raise FilterError("sortBy names an attribute that cannot be sorted on")
            column = self._column(field)
        return [column.desc() if descending else column.asc(), self.table.c.id.asc()]


def _is_text(column: Any) -> bool:
    # sqlmodel's AutoString is a TypeDecorator over String (its python_type says object).
    return isinstance(getattr(column.type, "impl", column.type), String)


def _typed(column: Any, value: Any) -> Any:
    """A filter value in the column's type; FilterError when it is not one."""
    kind = getattr(column.type, "impl", column.type)
    try:
        if isinstance(kind, DateTime):
            parsed = dt.datetime.fromisoformat(str(value))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        if isinstance(kind, Date):
            return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise FilterError("a date value is not in ISO 8601 form") from None
    return value
