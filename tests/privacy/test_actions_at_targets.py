"""Every policy action, as it arrives at a real CSV file and a real PostgreSQL table."""

from __future__ import annotations

import base64
import csv
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from hub.cli.main import app
from policies.actions import decrypt
from tests.services import fresh_postgres_database

runner = CliRunner()

MAPPING = """entity: customer
fields:
  customer_number: customer_number
  email: email
  first_name: first_name
  last_name: last_name
  date_of_birth: date_of_birth
  country: country
  loyalty_tier: loyalty_tier
  marketing_consent: marketing_consent
"""

POLICY = """
rules:
  - {id: key, to: [exports, warehouse], field: customer_number, action: allow}
  - {id: ps, to: [exports, warehouse], field: email, action: pseudonymise}
  - {id: mask, to: [exports, warehouse], field: first_name, action: mask,
     params: {keep_first: 1, keep_last: 0}}
  - {id: tok, to: [exports, warehouse], field: last_name, action: tokenise}
  - {id: year, to: [exports, warehouse], field: date_of_birth, action: generalise}
  - {id: gone, to: [exports, warehouse], field: country, action: "null"}
  - {id: enc, to: [exports, warehouse], field: loyalty_tier, action: encrypt}
  - {id: never, to: [exports, warehouse], field: marketing_consent, action: deny}
"""


def _targets(postgres_url: str) -> str:
    return f"""
  exports:
    connector: csv
    settings: {{directory: data/exports}}
    streams:
      customers: {{entity: customer, direction: outbound, resource: customers.csv,
                  key: [customer_number], mapping: mappings/everything.yaml}}
  warehouse:
    connector: sql
    settings: {{url: "{postgres_url}"}}
    streams:
      customers: {{entity: customer, direction: outbound, resource: customers,
                  key: [customer_number], mapping: mappings/everything.yaml}}
"""


@pytest.fixture
def deployment(starter: Path):  # type: ignore[no-untyped-def]
    with fresh_postgres_database() as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE customers (customer_number TEXT PRIMARY KEY, "
                              "email TEXT, first_name TEXT, last_name TEXT, date_of_birth TEXT, "
                              "country TEXT, loyalty_tier TEXT, marketing_consent TEXT)"))
        folder = starter.parent
        (folder / "mappings" / "everything.yaml").write_text(MAPPING, encoding="utf-8")
        (folder / "policies" / "actions.yaml").write_text(POLICY, encoding="utf-8")
        (folder / "data" / "exports").mkdir(parents=True)
        starter.write_text(starter.read_text(encoding="utf-8") + _targets(url), encoding="utf-8")
        yield starter, engine
        engine.dispose()


def _destination_key(config: Path, destination: str, tmp: Path) -> bytes:
    out = tmp / f"{destination}.key"
    result = runner.invoke(app, ["--config", str(config), "keys", "destination-key",
                                 destination, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o077 == 0
    return base64.b64decode(out.read_text().strip())


def _check_forms(row: dict[str, str | None], key: bytes, destination: str) -> None:
    """Zoë Ødegård, zoe@example.org, born 1985-04-12, Norway, tier gold (shop's 1001)."""
    assert row["customer_number"] == "1001"
    assert re.fullmatch(r"ps_[0-9a-f]{32}", row["email"] or "")
    assert row["first_name"] == "Z**"
    assert (row["last_name"] or "").startswith("tok_") and "Ødegård" not in str(row)
    assert row["date_of_birth"] == "1985"
    assert row["country"] in (None, "")
    assert decrypt(key, row["loyalty_tier"] or "", entity="customer", record_id="C-1001",
                   field="loyalty_tier") == "gold"
    assert row.get("marketing_consent") in (None, "")  # denied: never written


def test_each_action_arrives_in_its_form(deployment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config, warehouse = deployment
    result = runner.invoke(app, ["--config", str(config), "sync"])
    assert result.exit_code == 0, result.output

    with open(config.parent / "data" / "exports" / "customers.csv", encoding="utf-8") as fh:
        exported = {r["customer_number"]: r for r in csv.DictReader(fh)}
    assert "marketing_consent" not in next(iter(exported.values()))  # no such column at all
    _check_forms(exported["1001"], _destination_key(config, "exports.customers", tmp_path),
                 "exports.customers")

    with warehouse.connect() as conn:
        rows = {r.customer_number: dict(r._mapping)
                for r in conn.execute(text("SELECT * FROM customers"))}
    warehouse_key = _destination_key(config, "warehouse.customers", tmp_path)
    _check_forms(rows["1001"], warehouse_key, "warehouse.customers")
    # per-destination keys: the two targets cannot link their pseudonyms
    assert rows["1001"]["email"] != exported["1001"]["email"]
    with pytest.raises(Exception):  # noqa: B017 - the other destination's key fails
        decrypt(warehouse_key, exported["1001"]["loyalty_tier"], entity="customer",
                record_id="C-1001", field="loyalty_tier")

    again = runner.invoke(app, ["--config", str(config), "sync"])
    assert "nothing changed" in again.output  # every transform is stable
