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
from tests.privacy.canary import leaks

runner = CliRunner()
TYPES = {e: {n: s.type for n, s in builtin_fields(e).items()} for e in ENTITIES}


def kontor(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), "discover", *args])
    # --json: what a pipe gets (stdout), which stays JSON whatever reaches stderr
    return result.exit_code, result.stdout if "--json" in args else result.output


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


# --- samples behind the privacy gate (destination cli:discover) ------------------------

#: Restricted column names in German, French and Spanish; none is a canonical field name.
RESTRICTED_COLUMNS = [
    "Krankheitsgrund", "Behinderung", "Führungszeugnis", "Abmahnung", "Steuer-ID",
    "Steuernummer", "Sozialversicherungsnummer", "Ausweisnummer", "Reisepass", "IBAN", "BIC",
    "Kontonummer", "motif_arret_maladie", "handicap", "casier_judiciaire",
    "sanction_disciplinaire", "numéro_de_sécurité_sociale", "NIR", "passeport", "RIB",
    "baja_medica", "discapacidad", "antecedentes_penales", "amonestacion", "DNI", "NIE", "NIF",
    "número_seguridad_social", "cuenta_bancaria", "SteuerID",
]
CANARIES = {c: f"QX{i:02d}ZQ" for i, c in enumerate(RESTRICTED_COLUMNS)}


def _no_canary(out: str) -> None:
    found = leaks({"output": out}, CANARIES.values())
    assert not found, found


@pytest.mark.parametrize("entity", ["employee", "customer"])
def test_restricted_columns_in_any_language_are_withheld_from_a_csv(
        starter: Path, entity: str) -> None:
    (starter.parent / "data" / "source" / "staff.csv").write_text(
        ",".join(["personalnummer", "vorname", *RESTRICTED_COLUMNS]) + "\n"
        + ",".join(["P1", "Zoë", *CANARIES.values()]) + "\n", encoding="utf-8")
    args = ("shop", "--resource", "staff.csv", "--entity", entity, "--samples")
    code, out = kontor(starter, *args)
    assert code == 0, out
    _no_canary(out)
    assert "Zoë" in out and "‹withheld›" in out
    assert out.count("no policy allows") == 1
    code, out = kontor(starter, *args, "--json")
    assert code == 0, out
    _no_canary(out)
    [stream] = yaml.safe_load(out)["streams"]
    by_name = {f["name"]: f for f in stream["fields"]}
    assert by_name["vorname"]["samples"] == ["Zoë"]
    for column in RESTRICTED_COLUMNS:
        assert by_name[column]["samples"] is None, column
        assert by_name[column]["withheld_by"].startswith("builtin:"), column


def test_restricted_columns_in_any_language_are_withheld_from_xml(starter: Path) -> None:
    cells = "".join(f"<{c}>{v}</{c}>" for c, v in CANARIES.items())
    (starter.parent / "data" / "source" / "staff.xml").write_text(
        '<hr xmlns="urn:hr"><staff><employee><id>1</id><vorname>Zoë</vorname>'
        f"<akte>{cells}</akte></employee></staff></hr>", encoding="utf-8")
    add_system(starter, "hr", "xml", "{directory: data/source, record_path: staff/employee}",
               "staff.xml")
    for extra in ((), ("--json",)):
        code, out = kontor(starter, "hr", "--stream", "people", "--samples", *extra)
        assert code == 0, out
        _no_canary(out)
        assert "Zoë" in out and ("withheld" in out or "null" in out)
    [stream] = yaml.safe_load(out)["streams"]
    withheld = {f["name"] for f in stream["fields"] if f["samples"] is None}
    assert withheld >= {f"akte.{c}" for c in RESTRICTED_COLUMNS}


def _configured_hr(starter: Path, mapping: str) -> None:
    (starter.parent / "data" / "source" / "people.csv").write_text(
        "id,vorname,nachname,feld7,xq_9\nP1,Zoë,Ødegård,QXFELD7ZQ,QXUNKNOWNZQ\n",
        encoding="utf-8")
    add_system(starter, "hr", "csv", "{directory: data/source}", "people.csv")
    (starter.parent / "mappings" / "hr.yaml").write_text(mapping, encoding="utf-8")


def test_the_mapping_category_wins_over_an_innocent_name(starter: Path) -> None:
    _configured_hr(starter, "entity: employee\nfields:\n  employee_number: id\n"
                   "  first_name: vorname\n  sick_leave_reason: feld7\n")
    for args in (("--stream", "people"), ("--resource", "people.csv")):
        code, out = kontor(starter, "hr", *args, "--entity", "employee", "--samples",
                           "--json")
        assert code == 0, out
        [stream] = yaml.safe_load(out)["streams"]
        by_name = {f["name"]: f for f in stream["fields"]}
        assert by_name["feld7"]["samples"] is None  # the mapping says: health
        assert by_name["feld7"]["category"] == "user.health_and_medical"
        assert by_name["xq_9"]["samples"] is None  # can't be classified
        assert by_name["xq_9"]["withheld_by"] == "builtin:unclassified-field"
        assert by_name["vorname"]["samples"] == ["Zoë"]  # ordinary: shown
        assert by_name["nachname"]["samples"] == ["Ødegård"]  # unmapped, guessed: last_name
        assert "QXFELD7ZQ" not in out and "QXUNKNOWNZQ" not in out
    code, out = kontor(starter, "hr", "--stream", "people", "--samples")
    assert code == 0, out
    assert "Zoë" in out and "QXFELD7ZQ" not in out and "QXUNKNOWNZQ" not in out
    assert out.count("‹withheld›") == 3  # feld7, xq_9 and the note under the table


def test_policies_decide_what_the_screen_gets(starter: Path) -> None:
    """The samples pass the gate: a policy may mask an ordinary field, or let a
    restricted one through in the form it names; special ones still need a legal basis."""
    _configured_hr(starter, "entity: employee\nfields:\n  first_name: vorname\n"
                   "  iban: feld7\n  sick_leave_reason: xq_9\n")
    (starter.parent / "policies" / "screen.yaml").write_text("""
rules:
  - {id: screen-names-masked, to: ["*"], category: user.name, action: mask,
     params: {keep_last: 1}}
  - {id: screen-bank-masked, to: ["*"], category: user.financial.bank_account, action: mask,
     params: {keep_last: 2}, legal_basis: "test"}
  - {id: screen-health, to: ["*"], category: user.health_and_medical, action: allow}
""", encoding="utf-8")
    code, out = kontor(starter, "hr", "--stream", "people", "--samples", "--json")
    assert code == 0, out
    [stream] = yaml.safe_load(out)["streams"]
    by_name = {f["name"]: f for f in stream["fields"]}
    assert by_name["vorname"]["samples"] == ["**ë"]
    assert by_name["feld7"]["samples"] == ["*******ZQ"]
    assert by_name["xq_9"]["samples"] is None  # special: no legal basis, no release
    assert by_name["xq_9"]["withheld_by"] == "builtin:special-category-needs-legal-basis"
    assert by_name["id"]["samples"] == ["P1"]  # unmapped, guessed: employee_number


def test_a_keyed_action_without_a_keyring_withholds(starter: Path) -> None:
    _configured_hr(starter, "entity: employee\nfields:\n  first_name: vorname\n")
    (starter.parent / "policies" / "screen.yaml").write_text(
        'rules:\n  - {id: screen-names-pseudonymous, to: ["*"], category: user.name,\n'
        "     action: pseudonymise}\n", encoding="utf-8")
    code, out = kontor(starter, "hr", "--stream", "people", "--samples", "--json")
    assert code == 0, out
    by_name = {f["name"]: f for f in yaml.safe_load(out)["streams"][0]["fields"]}
    assert by_name["vorname"]["samples"][0].startswith("ps_")
    (starter.parent / ".kontor" / "keyring.json").unlink()
    code, out = kontor(starter, "hr", "--stream", "people", "--samples", "--json")
    assert code == 0, out
    by_name = {f["name"]: f for f in yaml.safe_load(out)["streams"][0]["fields"]}
    assert by_name["vorname"]["samples"] is None
    assert by_name["vorname"]["withheld_by"] == "builtin:action-needs-keyring"
    assert "Zoë" not in out
