"""Conformance checks for writing and deleting, verified through the peer's own eyes."""

from __future__ import annotations

from typing import Any

from connectors.base import Capability, Connector, Record, WriteResult
from hub.testing.checks_read import read_all, records_of
from hub.testing.data import edge_records, long_value, plain_records, project
from hub.testing.harness import NULLS, REJECTS, Harness, needs

READ, WRITE, DELETE = Capability.READ, Capability.WRITE, Capability.DELETE


def held(harness: Harness) -> dict[str, dict[str, Any]]:
    """What the peer holds, by key; a key held twice fails the check (upserts never add)."""
    records = harness.contents()
    keys = [str(r.get(harness.key_field)) for r in records]
    assert len(keys) == len(set(keys)), "a key is held more than once: write must upsert"
    return project(harness, records)


def _clean(result: WriteResult, count: int) -> None:
    assert result.rejected == [], [p.describe() for _, p in result.rejected]
    assert result.written == count


class WriteChecks:
    """``write`` is an idempotent upsert by key; a refused record does not stop the rest."""

    def _written(self, harness: Harness, connector: Connector, records: list[Record]
                 ) -> dict[str, dict[str, Any]]:
        harness.seed([])
        _clean(connector.write(harness.stream(), records), len(records))
        return held(harness)

    @needs(WRITE)
    def test_write_lands_in_the_peer(self, kontor_harness: Harness,
                                     kontor_connector: Connector) -> None:
        sent = plain_records(kontor_harness, 3)
        assert self._written(kontor_harness, kontor_connector, sent) == \
            project(kontor_harness, sent)

    @needs(WRITE)
    def test_rewriting_a_batch_is_idempotent(self, kontor_harness: Harness,
                                             kontor_connector: Connector) -> None:
        sent = plain_records(kontor_harness, 3)
        self._written(kontor_harness, kontor_connector, sent)
        before = kontor_harness.contents()
        _clean(kontor_connector.write(kontor_harness.stream(), sent), 3)
        after = kontor_harness.contents()
        assert len(after) == len(before) == 3, "re-sending a batch must not duplicate records"
        assert project(kontor_harness, after) == project(kontor_harness, before)

    @needs(WRITE)
    def test_write_updates_by_key(self, kontor_harness: Harness,
                                  kontor_connector: Connector) -> None:
        h = kontor_harness
        self._written(h, kontor_connector, plain_records(h, 2))
        _clean(kontor_connector.write(h.stream(), [h.record("k002", "renamed", "new")]), 1)
        holds = held(h)
        assert len(holds) == 2 and holds["k002"] == project(
            h, [h.record("k002", "renamed", "new")])["k002"]
        assert holds["k001"] == project(h, plain_records(h, 1))["k001"]

    @needs(WRITE)
    def test_write_keeps_unicode_and_special_characters(self, kontor_harness: Harness,
                                                        kontor_connector: Connector) -> None:
        sent = edge_records(kontor_harness)
        assert self._written(kontor_harness, kontor_connector, sent) == \
            project(kontor_harness, sent)

    @needs(WRITE)
    def test_write_keeps_a_very_long_value(self, kontor_harness: Harness,
                                           kontor_connector: Connector) -> None:
        sent = [kontor_harness.record("k001", "long", long_value(kontor_harness.long_value))]
        assert self._written(kontor_harness, kontor_connector, sent) == \
            project(kontor_harness, sent)

    @needs(WRITE, NULLS)
    def test_write_keeps_null_and_empty_apart(self, kontor_harness: Harness,
                                              kontor_connector: Connector) -> None:
        h = kontor_harness
        holds = self._written(h, kontor_connector, [h.record("k001", "null", None),
                                                   h.record("k002", "empty", "")])
        note = h.text_fields[1]
        assert (holds["k001"][note], holds["k002"][note]) == (None, "")

    @needs(WRITE)
    def test_null_is_never_written_as_text(self, kontor_harness: Harness,
                                           kontor_connector: Connector) -> None:
        h = kontor_harness
        holds = self._written(h, kontor_connector, [h.record("k001", "null", None)])
        assert holds["k001"][h.text_fields[1]] in (None, ""), "null must not become 'None'"

    @needs(READ, WRITE)
    def test_read_write_read_round_trip(self, kontor_harness: Harness,
                                        kontor_connector: Connector) -> None:
        h = kontor_harness
        h.seed(edge_records(h))
        first = records_of(read_all(kontor_connector, h.stream()))
        h.seed([])
        _clean(kontor_connector.write(h.stream(), first), len(first))
        second = records_of(read_all(kontor_connector, h.stream()))
        assert project(h, second) == project(h, first) and len(second) == len(first)

    @needs(WRITE, REJECTS)
    def test_a_rejected_record_is_reported_and_the_rest_written(
            self, kontor_harness: Harness, kontor_connector: Connector) -> None:
        h = kontor_harness
        h.seed([])
        bad = h.rejected_record("k002")
        result = kontor_connector.write(h.stream(), [h.record("k001", "good", "one"), bad,
                                                     h.record("k003", "good", "three")])
        assert result.written == 2
        [(key, problem)] = result.rejected
        assert key in ("k002", "#2"), "rejected keys are the key values joined by |"
        assert problem.reason, "a rejection must say why"
        assert sorted(held(h)) == ["k001", "k003"]
        shown = problem.describe()
        for value in bad.values():
            if isinstance(value, str) and len(value) >= 6 and value != "k002":
                assert value not in shown, "a refused value must not appear in the message"


class DeleteChecks:
    """``delete`` removes exactly the given keys, and doing it twice changes nothing."""

    def _three(self, harness: Harness) -> None:
        harness.seed(plain_records(harness, 3))

    @needs(DELETE)
    def test_delete_removes_only_those_keys(self, kontor_harness: Harness,
                                            kontor_connector: Connector) -> None:
        h = kontor_harness
        self._three(h)
        # Both key forms: a tuple of values, and the key text the hub stores.
        _clean(kontor_connector.delete(h.stream(), [("k001",), "k003"]), 2)
        assert sorted(held(h)) == ["k002"]

    @needs(DELETE)
    def test_delete_is_idempotent(self, kontor_harness: Harness,
                                  kontor_connector: Connector) -> None:
        h = kontor_harness
        self._three(h)
        _clean(kontor_connector.delete(h.stream(), [("k001",)]), 1)
        _clean(kontor_connector.delete(h.stream(), [("k001",), ("k999",)]), 2)
        assert sorted(held(h)) == ["k002", "k003"]
