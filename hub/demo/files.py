"""Writers for the demo's source and target files: XML export, SQLite databases."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

PAYROLL_DDL = """CREATE TABLE employees (
    personnel_no     TEXT PRIMARY KEY,
    first_name       TEXT,
    last_name        TEXT,
    email            TEXT,
    department       TEXT,
    job_title        TEXT,
    hire_date        TEXT,
    termination_date TEXT,
    salary           TEXT,  -- SQLite has no DECIMAL; text keeps "4250.00" exact
    iban             TEXT
);
"""
NEWSLETTER_COLUMNS = ("email", "first_name", "last_name", "country")


def render_xml(records: Iterable[dict[str, str]], *, root: str, record_tag: str,
               attributes: dict[str, str], comment: str) -> bytes:
    """A pretty-printed UTF-8 export; empty values become empty elements, like HR exports."""
    attrs = "".join(f" {k}={quoteattr(v)}" for k, v in attributes.items())
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f"<!-- {comment} -->", f"<{root}{attrs}>"]
    for rec in records:
        lines.append(f"  <{record_tag}>")
        for tag, value in rec.items():
            lines.append(f"    <{tag}>{escape(value)}</{tag}>" if value else f"    <{tag}/>")
        lines.append(f"  </{record_tag}>")
    lines.append(f"</{root}>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def write_sqlite(path: Path, ddl: str, table: str, columns: Sequence[str],
                 rows: Iterable[Sequence[object]]) -> None:
    """Create a fresh database file (an old one is replaced, never appended to)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + "-journal"), path.with_name(path.name + "-wal")):
        stale.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        con.executescript(ddl)
        if columns:  # a target table starts empty
            marks = ", ".join("?" for _ in columns)
            con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                            rows)
        con.commit()
    finally:
        con.close()


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
