"""``kontor discover``: fields, guesses and a starter mapping, on every bundled file/SQL kind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hub.canonical import ENTITIES, builtin_fields
from hub.cli.main import app
from mappings.engine import load_mapping

runner = CliRunner()
TYPES = {e: {n: s.type for n, s in builtin_fields(e).items()} for e in ENTITIES}


def kontor(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), "discover", *args])
    return result.exit_code, result.output


def add_system(config: Path, name: str, connector: str, settings: str, resource: str) -> None:
    """Append a system to the starter's kontor.yaml (one inbound employee stream)."""
    (config.parent / "mappings" / "hr.yaml").write_text(
        "entity: employee\nfields:\n  first_name: vorname\n", encoding="utf-8")
    with open(config, "a", encoding="utf-8") as fh:
        fh.write(f"""
  {name}:
    connector: {connector}
    settings: {settings}
    streams:
      people: {{entity: employee, direction: inbound, resource: {resource}, key: [id],
               mapping: mappings/hr.yaml}}
""")


def test_fields_and_a_starter_mapping_without_sample_values(starter: Path) -> None:
    target = starter.parent / "mappings" / "new.yaml"
    code, out = kontor(starter, "shop", "--stream", "customers", "--write-mapping", str(target))
    assert code == 0, out
    assert "first_name" in out and "date_of_birth" in out  # birthday -> date_of_birth
    assert "zoe@example.org" not in out and "Ødegård" not in out  # no values by default
    text = target.read_text(encoding="utf-8")
    assert "date_of_birth: birthday   # guessed" in text
    assert "customer_number: id" in text  # the bare key column is the record's number
    assert "# ?: tier" in text  # no guess: left for a person, commented out
    assert "# updated_at: {column: changed_at}" in text
    spec = yaml.safe_load(text)
    assert spec["fields"]["email"] == "email"
    mapping = load_mapping(target, TYPES, entity="customer")  # a valid mapping file
    values, _ = mapping.inbound({"id": "7", "first_name": "A", "last_name": "B",
                                 "email": "a@example.org", "birthday": "2000-01-31",
                                 "country": "de", "newsletter": "yes"})
    assert values["customer_number"] == "7"

    code, out = kontor(starter, "shop", "--stream", "customers", "--write-mapping", str(target))
    assert code == 1 and "--force" in out


def test_samples_only_on_request_and_never_for_restricted_fields(starter: Path) -> None:
    (starter.parent / "data" / "source" / "staff.csv").write_text(
        "personalnummer,vorname,sick_leave_reason\nP1,Zoë,BURNOUT-SECRET\n", encoding="utf-8")
    code, out = kontor(starter, "shop", "--resource", "staff.csv", "--entity", "employee",
                       "--samples")
    assert code == 0, out
    assert "Zoë" in out and "employee_number" in out
    assert "BURNOUT-SECRET" not in out and "withheld" in out


@pytest.mark.parametrize("kind", ["xml", "fixedwidth", "sql"])
def test_discover_works_on_each_bundled_kind(starter: Path, kind: str) -> None:
    data = starter.parent / "data" / "source"
    if kind == "xml":
        (data / "staff.xml").write_text(
            '<hr xmlns="urn:hr"><staff><employee><id>1</id><vorname>Zoë</vorname>'
            "<address><city>Oslo</city></address></employee></staff></hr>", encoding="utf-8")
        add_system(starter, "hr", "xml",
                   "{directory: data/source, record_path: staff/employee}", "staff.xml")
        expected = ["id", "vorname", "address.city"]
    elif kind == "fixedwidth":
        (data / "PERS.TXT").write_text("P0001   Zoë\n", encoding="cp1252")
        add_system(starter, "hr", "fixedwidth", "{directory: data/source, encoding: cp1252, "
                   "names: [id, vorname], widths: [8, 20]}", "PERS.TXT")
        expected = ["id", "vorname"]
    else:
        db = sqlite3.connect(data / "payroll.db")
        db.execute("CREATE TABLE staff (id TEXT PRIMARY KEY, vorname TEXT, eintritt DATE)")
        db.commit()
        db.close()
        add_system(starter, "hr", "sql", "{url: 'sqlite:///data/source/payroll.db'}", "staff")
        expected = ["id", "vorname", "eintritt"]
    code, out = kontor(starter, "hr", "--stream", "people", "--json")
    assert code == 0, out
    [stream] = yaml.safe_load(out)["streams"]
    assert [f["name"] for f in stream["fields"]] == expected
    guesses = {f["name"]: f["guess"] for f in stream["fields"]}
    assert guesses["vorname"] == "first_name" and guesses["id"] == "employee_number"


def test_unknown_system_and_stream_are_named(starter: Path) -> None:
    code, out = kontor(starter, "nope")
    assert code == 1 and "shop" in out
    code, out = kontor(starter, "shop", "--stream", "nope")
    assert code == 1 and "customers" in out
