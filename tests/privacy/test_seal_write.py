"""The inbound hot path's shortcuts keep every promise of the slow path they replace:
one write's golden and history rows sealed in one pass (one data-key look-up, one cipher
per key), a fresh nonce and the record-and-field AAD for every value; a new record merged
without building the empty row first; names folded without Unicode work when ASCII."""

from __future__ import annotations

import base64
import datetime as dt
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, select

from hub import taxonomy
from hub.canonical import FieldSpec, builtin_fields
from hub.golden.rows import history_row, merge_into, new_golden, new_merged
from hub.matching.profile import _NOT_LETTER, _UMLAUTS, fold
from hub.matching.settings import EntitySurvivorship
from hub.store import bulk
from hub.store.sealing import Sealer, field_bucket
from hub.store.tables import SubjectKey
from hub.survivorship.rules import Sources, Survivorship
from policies import keys
from policies.envelope import is_padded, sealed_length, unseal

NOW = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
NOTE = FieldSpec("health_note", "str", taxonomy.lookup("user.health_and_medical"), custom=True)


@pytest.fixture()
def store(tmp_path: Path) -> tuple[Engine, Sealer, list[str]]:
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    bulk.table_of(SubjectKey).create(engine)
    keyring = keys.create(tmp_path / "keyring.json")
    specs = {**builtin_fields("employee"), NOTE.name: NOTE}
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _cur, sql, *_a: statements.append(sql))
    return engine, Sealer(keyring, {"employee": specs}), statements


def _rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    builtin = list(builtin_fields("employee"))
    stamp = {"system": "hr", "key": "1", "run": 1, "at": "2026-01-01T00:00:00"}
    shared_custom = {"health_note": "knee surgery"}  # the caller's dicts must stay plain
    filled = {**new_golden("E-1", NOW, builtin), "version": 1, "updated_at": NOW,
              "iban": "DE02120300000000202051", "last_name": "Muster",
              "custom": shared_custom, "provenance": {"iban": stamp, "last_name": stamp,
                                                      "health_note": stamp}}
    empty = {**new_golden("E-2", NOW, builtin), "version": 1, "updated_at": NOW,
             "last_name": "Leer", "provenance": {"last_name": stamp}}
    goldens = [filled, empty]
    history = [history_row("employee", r, builtin, system="hr", run_id=1, now=NOW)
               for r in goldens]
    return goldens, history


def test_one_write_seals_goldens_and_history_in_one_pass(
        store: tuple[Engine, Sealer, list[str]]) -> None:
    engine, sealer, statements = store
    goldens, history = _rows()
    caller_custom, caller_prov = goldens[0]["custom"], goldens[0]["provenance"]
    restricted = sealer.builtin["employee"]
    with engine.begin() as conn:
        statements.clear()
        sealer.seal_write(conn, "employee", goldens, history)
        lookups = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(lookups) == 1  # one data-key look-up for both kinds of row
        keyed = {r.golden_id for r in conn.execute(select(bulk.table_of(SubjectKey)))}
    assert keyed == {"E-1"}  # a key with the first restricted value; E-2 has none
    # the caller's shared dicts were copied, not sealed in place
    assert caller_custom == {"health_note": "knee surgery"}
    assert caller_prov["iban"]["system"] == "hr"

    tokens: list[str] = []
    for row in goldens:
        for f in restricted:
            assert is_padded(row[f]) and len(row[f]) == sealed_length(
                field_bucket(builtin_fields("employee")[f])), f
            assert is_padded(row["provenance"][f]["sealed"])  # absent provenance sealed too
            tokens += [row[f], row["provenance"][f]["sealed"]]
        assert row["last_name"] in ("Muster", "Leer")  # unrestricted: as it was
    for h in history:
        tokens += [h["data"][f] for f in restricted]
        assert all(is_padded(h["data"][f]) for f in restricted)
    assert is_padded(goldens[0]["custom"]["health_note"])
    assert len(set(tokens)) == len(tokens)  # a fresh nonce for every value, absent included
    # the nonces themselves (drawn for the whole write at once): none used twice
    drawn = [base64.urlsafe_b64decode(t.removeprefix("sealed:v2:") + "==")[:12]
             for t in tokens]
    assert len(set(drawn)) == len(drawn) and all(len(n) == 12 for n in drawn)

    with engine.begin() as conn:
        sealer.open_goldens(conn, "employee", goldens)
        sealer.open_history(conn, "employee", history)
    assert goldens[0]["iban"] == history[0]["data"]["iban"] == "DE02120300000000202051"
    assert goldens[0]["custom"] == {"health_note": "knee surgery"}
    assert goldens[0]["provenance"]["iban"]["system"] == "hr"
    assert goldens[1]["iban"] is None and "iban" not in goldens[1]["provenance"]
    assert all(history[1]["data"][f] is None for f in restricted)


def test_a_value_moved_to_another_field_or_record_does_not_open(
        store: tuple[Engine, Sealer, list[str]]) -> None:
    engine, sealer, _ = store
    goldens, history = _rows()
    with engine.begin() as conn:
        sealer.seal_write(conn, "employee", goldens, history)
        token = goldens[0]["iban"]
        moved = [{**goldens[0], "national_id": token, "provenance": {}},
                 {**goldens[1], "iban": token, "provenance": {}}]
        sealer.open_goldens(conn, "employee", moved)
    assert moved[0]["iban"] == "DE02120300000000202051"
    assert moved[0]["national_id"] is None  # the AAD names the field
    assert moved[1]["iban"] is None  # and the record (E-2 has no key: nothing opens)
    dek = sealer._deks[("employee", "E-1")]
    assert dek is not None
    assert unseal(dek, token, "employee|E-1|iban") == "DE02120300000000202051"


@pytest.mark.parametrize("values", [
    {"first_name": "Anna", "last_name": "Muster", "street": "Hauptstr. 5", "city": "Köln",
     "email": "a@example.org", "favourite": "tea"},
    {"last_name": "Leer", "postal_code": None, "city": ""},
    {},
])
def test_a_new_record_merges_as_into_an_empty_row(values: dict[str, Any]) -> None:
    fields = {**builtin_fields("customer"),
              "favourite": FieldSpec("favourite", "str", taxonomy.lookup("user"), custom=True)}
    builtin = [n for n, s in fields.items() if not s.custom]
    custom = [n for n, s in fields.items() if s.custom]
    rules = Survivorship(EntitySurvivorship(), fields)
    source = {"system": "crm", "key": "K-1", "run": 3}
    slow_sources, fast_sources = Sources(), Sources()
    slow = merge_into(new_golden("C-1", NOW, builtin), values, observed_at="2026-01-02",
                      source=source, builtin=builtin, custom=custom, rules=rules,
                      sources=slow_sources)
    fast = new_merged("C-1", NOW, values, observed_at="2026-01-02", source=source,
                      builtin=builtin, custom=custom, rules=rules, sources=fast_sources)
    assert fast == slow
    assert list(fast[0]) == list(slow[0])  # the same columns in the same order
    assert [r.values for r in fast_sources.records.values()] == \
        [r.values for r in slow_sources.records.values()]


@pytest.mark.parametrize("text", ["Hans-Peter  MÜLLER", "Mueller, Hans", "O'Brien 3rd",
                                  "  ANNA\tmaria ", "Zoë", "straße", "A.B.-C", "", "123"])
def test_folding_is_the_same_with_or_without_the_ascii_shortcut(text: str) -> None:
    slow = unicodedata.normalize("NFC", text).casefold().translate(_UMLAUTS)
    slow = "".join(c for c in unicodedata.normalize("NFKD", slow)
                   if not unicodedata.combining(c))
    assert fold(text) == " ".join(_NOT_LETTER.sub(" ", slow).split())
