"""Match-key and review-pair statements use their indexes (no scans that grow with the store).

A row-value ``IN`` list once made SQLite scan every match key of the entity per batch, so a
sync slowed down as the store grew; these plans pin the fix.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from hub.store import matching_store as ms
from hub.store.db import make_engine
from hub.store.migrate import upgrade
from tests.matching.deploy import query_plans


def test_match_key_and_review_statements_search_by_index(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'plans.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        ms.add_keys(conn, "customer", [(f"k{i}", f"C-{i}") for i in range(50)])
        plans = query_plans(conn, lambda: ms.remove_keys(conn, "customer", [("k1", "C-1")]))
        plans += query_plans(conn, lambda: ms.lookup_keys(conn, "customer", ["k2", "k3"]))
        plans += query_plans(conn, lambda: ms.decided_pairs(conn, "customer", [("C-1", "C-2")]))
        assert conn.execute(text("SELECT count(*) FROM match_key")).scalar_one() == 49
    engine.dispose()
    assert len(plans) == 3
    assert "(entity=? AND value=? AND golden_id=?)" in plans[0]
    assert "(entity=? AND value=?)" in plans[1]
    assert "(entity=? AND golden_a=?)" in plans[2]
    assert not any("SCAN match_key" in p or "SCAN review_pair" in p for p in plans)
