"""Indexed reads of golden records for the API: name search and remembered totals.

Migration 0011 builds what these use; triggers keep it in step with every golden write,
in the writer's transaction (on SQLite with one call, ``refresh``, from the write path):

- the name search (a part of a first, last or organisation name, any case) narrows by a
  trigram index, then keeps the exact test, so its answer is the plain scan's: an FTS5
  table on SQLite, pg_trgm GIN indexes on PostgreSQL (which serve the plain test, an
  ILIKE there, as it stands). On SQLite a trigger notes each changed id, ``refresh`` (the
  write path calls it) indexes them a batch at a time, and the search treats the ids
  not indexed yet as candidates, so it never misses a change;
- ``search_generation`` counts the changes to each golden table, so ``count`` remembers
  a filter's total until the table changes (SCIM's ``totalResults`` on every page).

Only unrestricted columns are indexed: restricted ones hold ciphertext at rest. A store
without the migration's objects (an older schema) falls back to plain scans.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Engine,
    MetaData,
    Select,
    String,
    Table,
    and_,
    inspect,
    or_,
    select,
    text,
)

# Trigrams: a shorter term has none to look up, so it is scanned for.
MIN_INDEXED = 3
_COUNTS_KEPT = 1024

# What migration 0011 keeps by SQL, outside the models (kept in step with it): the
# migrations' env leaves these out of its comparison of models and schema.
_TABLES_PREFIX = "search_"
INDEXES = frozenset({
    "ix_golden_employee_last_name_id", "ix_golden_employee_first_name_id",
    "ix_golden_employee_termination_date", "ix_golden_employee_updated_at",
    "ix_golden_employee_created_at", "ix_golden_customer_updated_at",
    *(f"ix_golden_customer_{c}_trgm" for c in ("first_name", "last_name", "organisation_name")),
    *(f"ix_golden_employee_{c}_trgm" for c in ("first_name", "last_name"))})


def owned(name: str | None, kind: str) -> bool:
    """A table or index of the search index's own (not of a model)."""
    return bool(name) and ((kind == "table" and str(name).startswith(_TABLES_PREFIX))
                           or (kind == "index" and name in INDEXES))


_meta = MetaData()
generation = Table("search_generation", _meta,
                   Column("entity", String(20), primary_key=True),
                   Column("n", BigInteger, nullable=False))
_lock = threading.Lock()


class _Store:
    """What one engine's store has of the migration's tables, and its remembered totals:
    (entity, statement, parameters) -> (generation, total)."""

    def __init__(self, conn: Connection):
        self.tables = frozenset(n for n in inspect(conn).get_table_names()
                                if n.startswith(_TABLES_PREFIX))
        self.counts: OrderedDict[tuple[Any, ...], tuple[int, int]] = OrderedDict()
        self.columns: dict[str, list[str]] = {}


_stores: WeakKeyDictionary[Engine, _Store] = WeakKeyDictionary()


def _store(conn: Connection) -> _Store:
    found = _stores.get(conn.engine)
    if found is None:
        found = _stores[conn.engine] = _Store(conn)
    return found


def _objects(conn: Connection) -> frozenset[str]:
    return _store(conn).tables


def name_filter(conn: Connection, entity: str, table: Table, fields: Sequence[str],
                term: str) -> ColumnElement[bool]:
    """Records with ``term`` in one of ``fields``, compared lower-cased (as before)."""
    plain = or_(*(table.c[f].icontains(term, autoescape=True) for f in fields))
    side = f"search_{entity}"
    if len(term) < MIN_INDEXED or conn.dialect.name != "sqlite" \
            or side not in _objects(conn):
        return plain  # PostgreSQL: the pg_trgm indexes serve the plain test itself
    # The FTS5 trigram phrase finds every row holding the term in any case (a superset of
    # what SQLite's ASCII-only lower() matches), and the rows changed since the index
    # caught up are all candidates; the plain test then keeps exactly the matches.
    phrase = '"' + term.replace('"', '""') + '"'
    candidates = text(f"SELECT s.id FROM {side} s JOIN {side}_fts f ON f.rowid = s.row "
                      f"WHERE {side}_fts MATCH :phrase "
                      f"UNION SELECT id FROM {side}_dirty").bindparams(phrase=phrase)
    return and_(table.c.id.in_(candidates.columns(id=String)), plain)


def refresh(conn: Connection, entity: str) -> None:
    """Index the names of the golden records changed since the last refresh (SQLite; on
    PostgreSQL the database keeps its indexes itself). Called by the write path in the
    writer's transaction: a few set-based statements per batch, nothing per row."""
    side = f"search_{entity}"
    if conn.dialect.name != "sqlite" or side not in _objects(conn):
        return
    fts, dirty = f"{side}_fts", f"{side}_dirty"
    if conn.exec_driver_sql(f"SELECT 1 FROM {dirty} LIMIT 1").first() is None:
        return
    cols = ", ".join(_columns(conn, side))
    old = ", ".join(f"s.{c}" for c in _columns(conn, side))
    for sql in (
        (f"INSERT INTO {fts}({fts}, rowid, {cols}) SELECT 'delete', s.row, {old} "
         f"FROM {side} s JOIN {dirty} d ON d.id = s.id"),
        f"DELETE FROM {side} WHERE id IN (SELECT id FROM {dirty})",
        (f"INSERT INTO {side}(id, {cols}) SELECT g.id, {cols} FROM golden_{entity} g "
         f"WHERE g.id IN (SELECT id FROM {dirty})"),
        (f"INSERT INTO {fts}(rowid, {cols}) SELECT s.row, {old} FROM {side} s "
         f"JOIN {dirty} d ON d.id = s.id"),
        f"DELETE FROM {dirty}",
    ):
        conn.exec_driver_sql(sql)


def _columns(conn: Connection, side: str) -> list[str]:
    """The name columns the migration indexed for this entity."""
    store = _store(conn)
    if side not in store.columns:
        store.columns[side] = [c["name"] for c in inspect(conn).get_columns(side)
                               if c["name"] not in ("row", "id")]
    return store.columns[side]


def count(conn: Connection, entity: str, counted: Select[Any]) -> int:
    """``counted`` (a ``SELECT count(*)`` over the golden table of ``entity``), remembered
    until the next change of that table; exact, as a count at the time of the read."""
    store = _store(conn)
    if "search_generation" not in store.tables:
        return int(conn.execute(counted).scalar_one())
    # SQLAlchemy's own cache key of the statement (its shape) with its parameter values:
    # cheaper than compiling it.
    shape = counted._generate_cache_key()
    if shape is None:  # a statement SQLAlchemy cannot cache: not remembered either
        return int(conn.execute(counted).scalar_one())
    key = (entity, shape.key, tuple(repr(b.effective_value) for b in shape.bindparams))
    current = select(generation.c.n).where(generation.c.entity == entity).scalar_subquery()
    seen = conn.execute(select(current)).scalar()
    with _lock:
        hit = store.counts.get(key)
    if hit is not None and seen is not None and hit[0] == seen:
        return hit[1]
    # The generation and the count in one statement: one snapshot, so they agree.
    seen, total = conn.execute(select(current, counted.scalar_subquery())).one()
    if seen is not None:
        with _lock:
            store.counts[key] = (int(seen), int(total))
            store.counts.move_to_end(key)
            while len(store.counts) > _COUNTS_KEPT:
                store.counts.popitem(last=False)
    return int(total)


def compact(conn: Connection, entity: str) -> None:
    """Merge the FTS5 index's segments (SQLite): a deleted or changed name's trigrams stay
    in older segments until a merge, so an erasure compacts to make them leave the file."""
    fts = f"search_{entity}_fts"
    if conn.dialect.name == "sqlite" and fts in _objects(conn):
        conn.exec_driver_sql(f"INSERT INTO {fts}({fts}) VALUES('optimize')")
