"""A read that ended early is no snapshot: it retires and deletes nothing, and says why.

A CSV and an XML source, both full snapshots with ``on_delete: retire`` and no delete
threshold to hide behind (``max_delete_percent: 100``): cut off in the middle of a line or
an element, or broken by a quote that is never closed, the records after the break are
not read, and must not count as deleted in the source.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.context import Hub, open_hub
from hub.store import bulk
from hub.store.matching_tables import GoldenRetired
from hub.store.tables import SyncRun, Xref
from hub.sync.runner import RunResult, run_sync
from tests.matching.deploy import COLUMNS, PERSON, person, system, write_deployment, write_rows

N = 10
CRM = [person(str(i), f"Vorname{i}", f"Nachname{i}", email=f"p{i}@example.org",
              city="Berlin") for i in range(N)]
HR = [person(f"x{i}", f"Anders{i}", f"Bergmann{i}", email=f"x{i}@example.net",
             city="Hamburg") for i in range(N)]
DELETES = "deletes:\n  detect: true\n  on_delete: retire\n  max_delete_percent: 100\n"
HR_SYSTEM = """  hr:
    connector: xml
    default_region: DE
    settings: {directory: data, record_tag: person}
    streams:
      people: {entity: customer, direction: inbound, resource: hr.xml, key: [id],
               mapping: mappings/hr.yaml}
"""


@pytest.fixture
def folder(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    return tmp_path


def _xml(people: list[dict[str, Any]]) -> str:
    body = "".join("  <person>" + "".join(f"<{c}>{escape(str(p.get(c, '')))}</{c}>"
                                          for c in COLUMNS) + "</person>\n" for p in people)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<people>\n{body}</people>\n'


def _write_xml(folder: Path, people: list[dict[str, Any]]) -> None:
    (folder / "data" / "hr.xml").write_text(_xml(people), encoding="utf-8")


def _synced(folder: Path) -> Hub:
    """Both sources in full, synced once: 2 N golden records."""
    write_deployment(folder, system("crm") + HR_SYSTEM, DELETES, {"crm": PERSON, "hr": PERSON})
    write_rows(folder, "crm", CRM)
    _write_xml(folder, HR)
    hub = open_hub(folder / "kontor.yaml")
    first = run_sync(hub.deployment, hub.engine)
    assert first.status == "success", first.streams
    assert sum(s.created for s in first.streams) == 2 * N
    return hub


def _cut(path: Path, marker: str, keep: int) -> None:
    """Cut the file ``keep`` characters after the start of ``marker``: mid-line/element."""
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:text.index(marker) + keep], encoding="utf-8", newline="")


def _nothing_retired_or_deleted(hub: Hub) -> None:
    with hub.engine.connect() as conn:
        assert conn.execute(select(bulk.table_of(GoldenRetired))).all() == []
        x = bulk.table_of(Xref)
        assert conn.execute(select(x.c.source_key).where(x.c.deleted_at.is_not(None))
                            ).all() == []


def _stored_counts(hub: Hub, result: RunResult) -> tuple[str, dict[str, Any]]:
    t = bulk.table_of(SyncRun)
    with hub.engine.connect() as conn:
        row = conn.execute(select(t.c.status, t.c.counts).where(t.c.id == result.run_id)).one()
    return row.status, row.counts


def _early(hub: Hub, name: str, *expected: str) -> None:
    """Sync ``name`` (whose file is broken): no deletes, the run says why and is no success."""
    result = run_sync(hub.deployment, hub.engine, systems=[name])
    counts = result.streams[0]
    assert result.status != "success"
    assert not counts.ok
    assert counts.deleted == counts.retired == counts.held_deletes == 0
    assert counts.situations["deleted"] == 0
    assert counts.incomplete is not None
    for text in expected:
        assert text in counts.incomplete
    status, stored = _stored_counts(hub, result)
    assert status == result.status != "success"
    assert stored[f"{name}.people"]["incomplete"] == counts.incomplete
    _nothing_retired_or_deleted(hub)


def test_a_csv_cut_off_in_the_middle_of_a_line_retires_nothing(folder: Path) -> None:
    hub = _synced(folder)
    _cut(folder / "data" / "crm.csv", "4,Vorname4", 8)  # line 6 (after the header) cut
    _early(hub, "crm", "crm.csv", "line 6", "cut off")
    # The same broken file again: read again (an early end commits no cursor), and the
    # run says so again; still nothing deleted.
    again = run_sync(hub.deployment, hub.engine, systems=["crm"]).streams[0]
    assert again.incomplete is not None and (again.deleted, again.retired) == (0, 0)
    _nothing_retired_or_deleted(hub)
    write_rows(folder, "crm", CRM)  # the full export arrives
    assert run_sync(hub.deployment, hub.engine, systems=["crm"]).status == "success"
    _nothing_retired_or_deleted(hub)
    hub.close()


def test_a_csv_with_a_quote_never_closed_retires_nothing(folder: Path) -> None:
    hub = _synced(folder)
    path = folder / "data" / "crm.csv"
    text = path.read_text(encoding="utf-8")
    # Row 3 (line 5) opens a quote in its key column that nothing closes: the reader
    # refuses that record and reads the lines after it as records of their own, but a
    # record without a readable key means the read is no full snapshot, so nothing may be
    # retired. (A quote opened after the key: tests/connectors/test_csv_quotes.py.)
    path.write_text(text.replace("\n3,Vorname3", '\n"3,Vorname3'), encoding="utf-8",
                    newline="")
    _early(hub, "crm", "crm.csv", "lines 5-11", "no key that could be read")
    hub.close()


def test_an_xml_cut_off_in_the_middle_of_an_element_retires_nothing(folder: Path) -> None:
    hub = _synced(folder)
    _cut(folder / "data" / "hr.xml", "<first>Anders4", 10)  # inside record 5, line 7
    _early(hub, "hr", "hr.xml", "line 7", "the rest of the file was not read")
    _write_xml(folder, HR)
    assert run_sync(hub.deployment, hub.engine, systems=["hr"]).status == "success"
    _nothing_retired_or_deleted(hub)
    hub.close()


def test_complete_files_with_rows_really_removed_still_retire_them(folder: Path) -> None:
    hub = _synced(folder)
    write_rows(folder, "crm", CRM[:4] + CRM[6:])  # 4 and 5 are gone from the CRM
    _write_xml(folder, HR[:-3])  # x7, x8 and x9 left the HR export
    result = run_sync(hub.deployment, hub.engine)
    assert result.status == "success", result.streams
    assert [(s.system, s.deleted, s.retired, s.incomplete) for s in result.streams] == [
        ("crm", 2, 2, None), ("hr", 3, 3, None)]
    x = bulk.table_of(Xref)
    with hub.engine.connect() as conn:
        gone = {r.source_key for r in conn.execute(
            select(x.c.source_key).where(x.c.deleted_at.is_not(None)))}
        retired = conn.execute(select(bulk.table_of(GoldenRetired))).all()
    assert gone == {"4", "5", "x7", "x8", "x9"} and len(retired) == 5
    hub.close()


def test_a_row_refused_without_a_readable_key_holds_the_deletes(folder: Path) -> None:
    """A row the reader refuses whole names its key when it can (one column too many after
    the key): that record is not taken for deleted. When the key cannot be read (a
    delimiter shifted it, so its column is empty), the record it carries is missing from
    the snapshot, but it was not deleted in the source: no delete is inferred at all."""
    hub = _synced(folder)
    path = folder / "data" / "crm.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Nachname3,", "Nachname3,extra,", 1), encoding="utf-8",
                    newline="")
    result = run_sync(hub.deployment, hub.engine, systems=["crm"])
    crm = next(s for s in result.streams if s.system == "crm")
    assert crm.failed == 1 and crm.held_deletes == 0 and crm.deleted == 0
    _nothing_retired_or_deleted(hub)

    path.write_text(text.replace("\n3,Vorname3,", "\n,3,Vorname3,", 1), encoding="utf-8",
                    newline="")
    result = run_sync(hub.deployment, hub.engine, systems=["crm"])
    crm = next(s for s in result.streams if s.system == "crm")
    assert crm.failed == 1 and crm.held_deletes == 1 and crm.deleted == 0
    assert result.status == "partial"
    _nothing_retired_or_deleted(hub)
    path.write_text(text, encoding="utf-8", newline="")  # the row is fixed: all is well
    assert run_sync(hub.deployment, hub.engine, systems=["crm"]).status == "success"
    _nothing_retired_or_deleted(hub)
    hub.close()
