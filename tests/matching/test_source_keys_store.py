"""Source records' match keys in the store: replaced per record, found through live xrefs
only, by index, and forgotten with their golden record."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import text

from hub.store import bulk
from hub.store import matching_store as ms
from hub.store.db import make_engine
from hub.store.migrate import upgrade
from hub.store.tables import Xref
from tests.matching.deploy import query_plans

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _xref(n: int, golden: str, deleted: bool = False) -> dict[str, object]:
    return {"system": "crm", "entity": "customer", "source_key": f"k{n}", "golden_id": golden,
            "source_hash": "h", "first_run": 1, "last_run": 1, "updated_at": NOW,
            "data": {"last_name": f"name {n}"}, "seen_run": None,
            "deleted_at": NOW if deleted else None}


def test_keys_follow_their_source_records(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        bulk.insert_rows(conn, bulk.table_of(Xref), [_xref(1, "C-1"), _xref(2, "C-1"),
                                                     _xref(3, "C-2", deleted=True)])
        ids = ms.xref_ids(conn, "crm", "customer", ["k1", "k2", "k3"])
        ms.replace_source_keys(conn, "customer", {ids["k1"]: {"a", "b"}, ids["k2"]: {"b"},
                                                  ids["k3"]: {"b"}})
        ms.replace_source_keys(conn, "customer", {ids["k1"]: {"c"}})  # k1's values changed
        found = ms.lookup_source_keys(conn, "customer", ["a", "b", "c"])
        assert dict(found) == {"b": [(ids["k2"], "C-1")], "c": [(ids["k1"], "C-1")]}
        sources = ms.sources_of(conn, "customer", ["C-1", "C-2"])
        assert [(s.source_key, s.keyed, s.data) for s in sources] == [
            ("k1", True, {"last_name": "name 1"}), ("k2", True, {"last_name": "name 2"})]
        reads = ("SELECT", "DELETE")
        plans = query_plans(conn, lambda: ms.lookup_source_keys(conn, "customer", ["b"]),
                            only=reads)
        plans += query_plans(conn, lambda: ms.replace_source_keys(conn, "customer",
                                                                  {ids["k2"]: {"b"}}),
                             only=reads)
        assert not any("SCAN source_key" in p or "SCAN xref" in p for p in plans), plans
        ms.forget_sources(conn, "customer", ["C-1"])
        assert conn.execute(text("SELECT count(*) FROM source_key")).scalar_one() == 1  # k3's
        kept = conn.execute(text("SELECT source_key, data FROM xref ORDER BY source_key"))
        assert [(k, json.loads(d) if d else None) for k, d in kept] == [
            ("k1", None), ("k2", None), ("k3", {"last_name": "name 3"})]  # C-1's forgotten
    engine.dispose()
