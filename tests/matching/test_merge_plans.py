"""A merge reads and writes by index: its cost must not grow with the store.

Merges happen in bulk when the sync trains its model and matches the store again; a
statement that read a whole table (all match keys of the entity, say) made each merge
slower the more records the store held.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from hub.audit.record import AuditLog
from hub.context import open_hub
from hub.golden.writer import GoldenWriter
from hub.sync.runner import run_sync
from tests.matching.deploy import (
    PERSON,
    golden_of,
    person,
    query_plans,
    system,
    write_deployment,
    write_rows,
)

TABLES = r"(match_key|source_key|xref|golden_customer|review_pair|record_history|golden_override)"
#: a table read whole, or all of an entity's rows of it ("(entity=?)" alone: every key)
WHOLE = re.compile(rf"\bSCAN {TABLES}\b|\bSEARCH {TABLES} USING [A-Z ]*?(INDEX \w+ )?"
                   r"\(entity=\?\)")


def test_a_merge_scans_no_table(tmp_path: Path) -> None:
    config = write_deployment(tmp_path, system("crm"), "", {"crm": PERSON})
    write_rows(tmp_path, "crm", [person(str(i), f"Vor{i}", f"Nach{i}", email=f"p{i}@example.org",
                                        dob=f"19{50 + i % 40}-0{1 + i % 9}-1{i % 9}")
                                 for i in range(300)])
    hub = open_hub(config)
    try:
        assert run_sync(hub.deployment, hub.engine).status == "success"
        a, b = golden_of(hub, "crm", "1"), golden_of(hub, "crm", "2")
        writer = GoldenWriter(hub.deployment, hub.sealer, "customer",
                              audit=AuditLog(hub.deployment.keyring(), "test"))
        with hub.engine.begin() as conn:
            writer.lock(conn)
            plans = query_plans(conn, lambda: writer.merge(
                conn, a, b, actor="test", run_id=None, now=dt.datetime.now(dt.UTC)),
                only=("SELECT", "DELETE", "UPDATE", "INSERT"))
    finally:
        hub.close()
    assert len(plans) > 10  # the merge ran: rows, history, keys, xrefs, outbox, audit
    assert not [p for p in plans if WHOLE.search(p)], plans
