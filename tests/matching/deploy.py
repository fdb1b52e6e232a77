"""Small multi-system deployments for the match & merge tests, written into tmp folders."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from policies import keys

PERSON = """entity: customer
on_invalid: quarantine  # what these tests count on; the default is drop_field
updated_at: changed
fields:
  customer_number: id
  first_name: first
  last_name: last
  email: {column: email, normalise: [email]}
  phone: {column: phone, normalise: [phone]}
  street: street
  postal_code: zip
  city: city
  date_of_birth: dob
  tax_id: tax
"""
COLUMNS = ["id", "first", "last", "email", "phone", "street", "zip", "city", "dob", "tax",
           "changed"]


def system(name: str, *, resource: str | None = None, extra: str = "",
           direction: str = "inbound", entity: str = "customer", mapping: str | None = None
           ) -> str:
    resource = resource or f"{name}.csv"
    return f"""  {name}:
    connector: csv
    default_region: DE
    settings: {{directory: data}}
    streams:
      people: {{entity: {entity}, direction: {direction}, resource: {resource}, key: [id],
               mapping: mappings/{mapping or name}.yaml{extra}}}
"""


def allow_policy(destination: str) -> str:
    """A policy file letting ``destination`` receive ordinary (unrestricted) master data."""
    rules = "".join(f"  - {{id: {destination}-{c.split('.')[-1]}, to: [{destination}], "
                    f"category: {c}, action: allow}}\n"
                    for c in ("user.contact", "user.name", "user.unique_id", "user.demographic"))
    return f"rules:\n{rules}"


def write_deployment(folder: Path, systems: str, config: str = "",
                     mappings: dict[str, str] | None = None,
                     policy: str | None = None, batch_size: int = 500) -> Path:
    """kontor.yaml (database from KONTOR_DATABASE_URL), mappings, policy and a keyring."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    if policy is not None:
        (folder / "policies").mkdir(exist_ok=True)
        (folder / "policies" / "test.yaml").write_text(policy, encoding="utf-8")
    (folder / "mappings").mkdir(exist_ok=True)
    for name, text in (mappings or {}).items():
        (folder / "mappings" / f"{name}.yaml").write_text(text, encoding="utf-8")
    path = folder / "kontor.yaml"
    path.write_text(f"database: kontor.db\nbatch_size: {batch_size}\n{config}\n"
                    f"systems:\n{systems}",
                    encoding="utf-8")
    if not (folder / ".kontor" / "keyring.json").exists():
        keys.create(folder / ".kontor" / "keyring.json")
    return path


def write_rows(folder: Path, name: str, rows: list[dict[str, Any]],
               columns: list[str] = COLUMNS) -> None:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    with open(folder / "data" / f"{name}.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})


def person(pid: str, first: str, last: str, **kw: Any) -> dict[str, Any]:
    return {"id": pid, "first": first, "last": last, "changed": "2026-01-01T00:00:00", **kw}


def golden_of(hub: Any, system_name: str, key: str) -> str:
    """The golden id system ``system_name``'s record ``key`` is linked to."""
    from sqlalchemy import select

    from hub.store import bulk
    from hub.store.tables import Xref

    x = bulk.table_of(Xref)
    with hub.engine.connect() as conn:
        return str(conn.execute(select(x.c.golden_id).where(
            x.c.system == system_name, x.c.source_key == key)).scalar_one())


def query_plans(conn: Any, action: Any, only: tuple[str, ...] | None = None) -> list[str]:
    """SQLite's query plan of every statement ``action()`` runs on ``conn`` (of those
    starting with one of ``only``, when given)."""
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def grab(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", grab)
    try:
        action()
    finally:
        event.remove(conn, "before_cursor_execute", grab)
    plans = []
    for statement, parameters in seen:
        if only and not statement.lstrip().upper().startswith(only):
            continue
        params = parameters[0] if isinstance(parameters, list) else parameters
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
        plans.append(" | ".join(str(r[-1]) for r in rows))
    return plans
