"""Conformance checks for reading: what was put into the peer comes out, exactly."""

from __future__ import annotations

from typing import Any

from connectors.base import Capability, Connector, ReadBatch, Record, StreamSpec
from hub.testing.data import edge_records, long_value, plain_records, project
from hub.testing.harness import NULLS, UNCHANGED, Harness, needs

READ, DISCOVER, INCREMENTAL = Capability.READ, Capability.DISCOVER, Capability.INCREMENTAL


def read_all(connector: Connector, stream: StreamSpec, **kw: Any) -> list[ReadBatch]:
    """Every batch of one read."""
    return list(connector.read(stream, **kw))


def records_of(batches: list[ReadBatch]) -> list[Record]:
    return [r.data for b in batches for r in b.records]


def problems_of(batches: list[ReadBatch]) -> list[Any]:
    return [p for b in batches for p in b.problems]


def last_cursor(batches: list[ReadBatch]) -> Any:
    cursors = [b.cursor for b in batches if b.cursor is not None]
    return cursors[-1] if cursors else None


def cursor_records(harness: Harness, steps: dict[str, int], name: str = "n") -> list[Record]:
    """Records whose cursor field holds ``harness.cursor_value(step)``, by key."""
    return [harness.record(key, f"{name} {key}", None, cursor=harness.cursor_value(step))
            for key, step in steps.items()]


class ReadChecks:
    """``read`` (and ``discover``, incremental reads) against records seeded into the peer."""

    def _seeded_read(self, harness: Harness, connector: Connector, records: list[Record],
                     **kw: Any) -> list[Record]:
        harness.seed(records)
        batches = read_all(connector, harness.stream(), **kw)
        assert problems_of(batches) == [], "good records must not become problems"
        return records_of(batches)

    @needs(READ)
    def test_empty_source(self, kontor_harness: Harness, kontor_connector: Connector) -> None:
        kontor_harness.seed([])
        batches = read_all(kontor_connector, kontor_harness.stream())
        assert records_of(batches) == [] and problems_of(batches) == []

    @needs(READ)
    def test_read_returns_what_the_peer_holds(self, kontor_harness: Harness,
                                              kontor_connector: Connector) -> None:
        sent = plain_records(kontor_harness, 3)
        kontor_harness.seed(sent)
        batches = read_all(kontor_connector, kontor_harness.stream())
        got = records_of(batches)
        assert project(kontor_harness, got) == project(kontor_harness, sent)
        assert len(got) == 3, "each record exactly once"
        assert all(r.location for b in batches for r in b.records), \
            "every record needs a location for error messages"

    @needs(READ)
    def test_size_estimate_is_sane(self, kontor_harness: Harness,
                                   kontor_connector: Connector) -> None:
        """``estimate`` (optional: None is fine) gives a non-negative size in records or
        bytes; in bytes, ``read_progress`` never runs past it and ends at it."""
        sent = plain_records(kontor_harness, 5)
        kontor_harness.seed(sent)
        stream = kontor_harness.stream()
        size = kontor_connector.estimate(stream)
        if size is None:
            return
        assert size.total >= 0 and size.unit in ("records", "bytes"), size
        if size.unit == "records" and size.exact:
            assert size.total == len(sent), "an exact estimate counts what a read returns"
        seen: list[int] = []
        for _ in kontor_connector.read(stream, batch_size=2):
            done = kontor_connector.read_progress(stream)
            if size.unit == "bytes" and done is not None:
                seen.append(done)
        assert seen == sorted(seen), "read_progress only moves forward"
        if seen and size.exact:
            assert seen[-1] <= size.total, "read_progress runs past the estimate"

    @needs(READ)
    def test_batches_respect_batch_size(self, kontor_harness: Harness,
                                        kontor_connector: Connector) -> None:
        kontor_harness.seed(plain_records(kontor_harness, 5))
        batches = read_all(kontor_connector, kontor_harness.stream(), batch_size=2)
        assert all(len(b.records) + len(b.problems) <= 2 for b in batches)
        assert len(records_of(batches)) == 5

    @needs(READ)
    def test_read_keeps_unicode_and_special_characters(self, kontor_harness: Harness,
                                                       kontor_connector: Connector) -> None:
        sent = edge_records(kontor_harness)
        got = self._seeded_read(kontor_harness, kontor_connector, sent)
        assert project(kontor_harness, got) == project(kontor_harness, sent)

    @needs(READ)
    def test_read_keeps_a_very_long_value(self, kontor_harness: Harness,
                                          kontor_connector: Connector) -> None:
        sent = [kontor_harness.record("k001", "long", long_value(kontor_harness.long_value))]
        got = self._seeded_read(kontor_harness, kontor_connector, sent)
        assert project(kontor_harness, got) == project(kontor_harness, sent)

    @needs(READ, NULLS)
    def test_read_keeps_null_and_empty_apart(self, kontor_harness: Harness,
                                             kontor_connector: Connector) -> None:
        sent = [kontor_harness.record("k001", "null", None),
                kontor_harness.record("k002", "empty", "")]
        got = self._seeded_read(kontor_harness, kontor_connector, sent)
        note = kontor_harness.text_fields[1]
        by_key = {str(r[kontor_harness.key_field]): r.get(note) for r in got}
        assert by_key == {"k001": None, "k002": ""}

    @needs(READ, UNCHANGED)
    def test_unchanged_source_reads_nothing_new(self, kontor_harness: Harness,
                                                kontor_connector: Connector) -> None:
        stream = kontor_harness.stream(incremental=True)
        kontor_harness.seed(cursor_records(kontor_harness, {"k001": 1, "k002": 2})
                            if stream.cursor_field else plain_records(kontor_harness, 2))
        cursor = last_cursor(read_all(kontor_connector, stream))
        assert cursor is not None, "a full read must end with a cursor"
        assert records_of(read_all(kontor_connector, stream, since=cursor)) == []

    @needs(READ, DISCOVER)
    def test_discovered_schema_matches_what_is_read(self, kontor_harness: Harness,
                                                    kontor_connector: Connector) -> None:
        kontor_harness.seed(plain_records(kontor_harness, 3))
        stream = kontor_harness.stream()
        found = kontor_connector.discover(stream)  # before reading: a read may archive
        got = records_of(read_all(kontor_connector, stream))
        assert [e["resource"] for e in found] == [stream.resource]
        fields = found[0]["fields"]
        assert all(isinstance(f["name"], str) and isinstance(f["type"], str) for f in fields)
        assert {f["name"] for f in fields} == {k for r in got for k in r}, \
            "discover must name exactly the fields read returns"
        assert set(found[0].get("key") or stream.key) <= {f["name"] for f in fields}


class IncrementalChecks:
    """``read(since=cursor)`` returns only changes; the cursor only moves forward."""

    @needs(READ, INCREMENTAL)
    def test_incremental_read_returns_only_changes(self, kontor_harness: Harness,
                                                   kontor_connector: Connector) -> None:
        h = kontor_harness
        stream = h.stream(incremental=True)
        h.seed(cursor_records(h, {"k001": 1, "k002": 2, "k003": 3}))
        first = last_cursor(read_all(kontor_connector, stream))
        assert first is not None, "a full incremental read must end with a cursor"
        assert records_of(read_all(kontor_connector, stream, since=first)) == []
        h.seed(cursor_records(h, {"k001": 10, "k002": 11, "k003": 3}, name="changed"))
        batches = read_all(kontor_connector, stream, since=first)
        changed = records_of(batches)
        assert sorted(str(r[h.key_field]) for r in changed) == ["k001", "k002"]
        second = last_cursor(batches)
        assert second is not None and h.cursor_order(second) > h.cursor_order(first)
        assert records_of(read_all(kontor_connector, stream, since=second)) == []

    @needs(READ, INCREMENTAL)
    def test_cursor_only_moves_forward(self, kontor_harness: Harness,
                                       kontor_connector: Connector) -> None:
        h = kontor_harness
        h.seed(cursor_records(h, {f"k{i:03d}": i for i in range(1, 8)}))
        batches = read_all(kontor_connector, h.stream(incremental=True), batch_size=2)
        cursors = [h.cursor_order(b.cursor) for b in batches if b.cursor is not None]
        assert cursors, "an incremental read must hand out a cursor"
        assert cursors == sorted(cursors), "a later batch must never move the cursor back"
        assert len(records_of(batches)) == 7
