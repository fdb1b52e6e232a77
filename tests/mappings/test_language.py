"""The mapping language: split and join, computed fields, normalisers, plug-ins, validation."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

from hub.errors import ConfigError, MappingError
from mappings import plugins
from mappings.engine import CompiledMapping, load_mapping

TYPES = {"customer": {"customer_number": "str", "first_name": "str", "last_name": "str",
                      "email": "str", "phone": "str", "street": "str", "postal_code": "str",
                      "city": "str", "country": "str", "kind": "str", "status": "str",
                      "date_of_birth": "date", "loyalty_tier": "str",
                      "marketing_consent": "bool"}}


def _load(tmp_path: Path, text: str, **kwargs: object) -> CompiledMapping:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    return load_mapping(path, TYPES, **kwargs)  # type: ignore[arg-type]


def _problems(tmp_path: Path, text: str) -> list[tuple[str, str, str]]:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    return [(p.file.rsplit(":", 1)[-1], p.path, p.message) for p in info.value.problems]


ADDRESS = """
entity: customer
on_invalid: quarantine
default_region: DE
fields:
  first_name: {column: Name, split: name, part: first}
  last_name: {column: Name, split: name, part: last}
  street: {columns: [Strasse, Hausnr], join: street}
  postal_code: {column: PLZ, normalise: [postal_code]}
  country: {column: Land, normalise: [country]}
  phone: {column: Telefon, normalise: [phone]}
  email: {column: Mail, normalise: [email]}
"""


@pytest.mark.parametrize(("name", "first", "last"), [
    ("Anna Schmidt", "Anna", "Schmidt"),
    ("Schmidt, Anna Maria", "Anna Maria", "Schmidt"),
    ("Dr. Anna Maria Schmidt", "Anna Maria", "Schmidt"),
    ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
    ("Cher", None, "Cher"),
])
def test_split_full_name(tmp_path: Path, name: str, first: str | None, last: str) -> None:
    m = _load(tmp_path, ADDRESS)
    values, _ = m.inbound({"Name": name})
    assert (values["first_name"], values["last_name"]) == (first, last)


def test_join_street_and_number_and_split_back(tmp_path: Path) -> None:
    m = _load(tmp_path, ADDRESS)
    values, _ = m.inbound({"Name": "Anna Schmidt", "Strasse": " Hauptstraße ", "Hausnr": "5a",
                           "PLZ": "D-1067", "Land": "Deutschland", "Telefon": "030 1234567",
                           "Mail": " Anna.Schmidt@Example.DE "})
    assert values == {"first_name": "Anna", "last_name": "Schmidt", "street": "Hauptstraße 5a",
                      "postal_code": "01067", "country": "DE", "phone": "+49301234567",
                      "email": "anna.schmidt@example.de"}
    out = m.outbound(values)
    assert out["Name"] == "Anna Schmidt"
    assert (out["Strasse"], out["Hausnr"]) == ("Hauptstraße", "5a")
    # number-first addresses (France, Britain) split too; no number leaves it empty
    assert m.outbound({"street": "12 rue de la Paix"}) == {"Strasse": "rue de la Paix",
                                                           "Hausnr": "12"}
    assert m.outbound({"street": "Marktplatz"}) == {"Strasse": "Marktplatz", "Hausnr": None}
    # a denied (absent) first name leaves only the last name in the joined column
    assert m.outbound({"last_name": "Schmidt"}) == {"Name": "Schmidt"}


@pytest.mark.parametrize(("text", "code"), [
    ("Deutschland", "DE"), ("Österreich", "AT"), ("osterreich", "AT"), ("Schweiz", "CH"),
    ("Suisse", "CH"), ("Allemagne", "DE"), ("Germany", "DE"), ("DEU", "DE"), ("at", "AT"),
    ("United Kingdom", "GB"), ("UK", "GB"), ("Vereinigte Staaten", "US"), ("276", "DE"),
    ("Pays-Bas", "NL"),
])
def test_country_names_in_several_languages_and_codes(tmp_path: Path, text: str,
                                                      code: str) -> None:
    m = _load(tmp_path, ADDRESS)
    assert m.inbound({"Land": text})[0]["country"] == code


@pytest.mark.parametrize(("column", "value", "field", "reason"), [
    ("Land", "Atlantis", "country", "not a known country name or code"),
    ("Telefon", "12", "phone", "not a valid phone number"),
    ("Telefon", "call me", "phone", "not a phone number"),
    ("Mail", "anna(at)example.de", "email", "not an email address"),
    ("Mail", "buchhaltung@schreinerei-vogt", "email", "not an email address"),
    ("PLZ", "123456", "postal_code", "not a valid postal code for DE"),
])
def test_normalisers_refuse_bad_values_without_echoing_them(
        tmp_path: Path, column: str, value: str, field: str, reason: str) -> None:
    m = _load(tmp_path, ADDRESS)
    with pytest.raises(MappingError) as info:
        m.inbound({"Land": "DE", column: value})
    assert info.value.field == field
    assert reason in info.value.reason and column in info.value.reason
    assert value not in str(info.value)


def test_phone_region_comes_from_field_mapping_or_system(tmp_path: Path) -> None:
    text = ("entity: customer\non_invalid: quarantine\nfields:\n"
            "  phone: {column: T, normalise: phone}\n")
    assert _load(tmp_path, text, default_region="AT").inbound(
        {"T": "0664 1234567"})[0]["phone"] == "+436641234567"
    with pytest.raises(MappingError, match="no default_region"):
        _load(tmp_path, text).inbound({"T": "0664 1234567"})
    # an international number needs no region; the field's own region beats the system's
    assert _load(tmp_path, text).inbound({"T": "+41 44 668 18 00"})[0]["phone"] == \
        "+41446681800"
    text = "entity: customer\nfields:\n  phone: {column: T, normalise: phone, region: CH}\n"
    assert _load(tmp_path, text, default_region="AT").inbound(
        {"T": "044 668 18 00"})[0]["phone"] == "+41446681800"


@pytest.mark.parametrize(("country", "given", "expected"), [
    ("AT", "a-1010", "1010"), ("NL", "1234ab", "1234 AB"), ("GB", "sw1a1aa", "SW1A 1AA"),
    ("PL", "00-950", "00-950"), ("BR", " 01310-100 ", "01310-100"),
])
def test_postal_codes_follow_the_records_country(tmp_path: Path, country: str, given: str,
                                                 expected: str) -> None:
    m = _load(tmp_path, ADDRESS)
    assert m.inbound({"PLZ": given, "Land": country})[0]["postal_code"] == expected


def test_whitespace_case_and_unicode_normalisers(tmp_path: Path) -> None:
    m = _load(tmp_path, "entity: customer\nfields:\n"
              "  city: {column: Ort, normalise: [nfkc, whitespace, title]}\n"
              "  last_name: {column: N, normalise: [upper]}\n"
              "  first_name: {column: V, normalise: [lower, strip_accents]}\n")
    # full-width letters, a non-breaking space, a decomposed umlaut
    values, _ = m.inbound({"Ort": "ＦＲＡＮＫＦＵＲＴ\u00a0 am   main", "N": "mu\u0308ller",
                           "V": "ZOË"})
    assert values == {"city": "Frankfurt Am Main", "last_name": "MÜLLER", "first_name": "zoe"}


def test_computed_fields_and_conditionals(tmp_path: Path) -> None:
    m = _load(tmp_path, """
entity: customer
fields:
  kind: {expr: "if(empty(Firma), 'person', 'organisation')"}
  city: {expr: "upper(coalesce(Ort, `Stadt alt`, 'unbekannt'))"}
  customer_number: {expr: "'K-' & trim(Nr)"}
  status: {expr: "if(Umsatz > 1000 and not gesperrt == 'ja', 'key', 'normal')"}
computed:
  Anzeigename: "first_name & ' ' & last_name"
  Land: "coalesce(country, 'DE')"
""")
    values, _ = m.inbound({"Firma": "", "Stadt alt": "Köln", "Nr": " 7 ", "Umsatz": "1500,50",
                           "gesperrt": "nein"})
    assert values == {"kind": "person", "city": "KÖLN", "customer_number": "K-7",
                      "status": "key"}
    assert m.inbound({"Firma": "ACME", "Umsatz": "10"})[0]["kind"] == "organisation"
    assert m.inbound({"Firma": "ACME", "Umsatz": "10"})[0]["status"] == "normal"
    out = m.outbound({"first_name": "Anna", "last_name": "Schmidt", "country": None})
    assert out == {"Anzeigename": "Anna Schmidt", "Land": "DE"}
    # a computed column that reads a field the gate denied is left out, not half-filled
    assert m.outbound({"first_name": "Anna", "country": "AT"}) == {"Land": "AT"}
    assert m.columns == {"Firma", "Ort", "Stadt alt", "Nr", "Umsatz", "gesperrt"}


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')", "Vorname.upper()", "open('x')", "Nr[0]",
    "lambda: 1", "1 +", "upper(a, b)",
])
def test_expressions_cannot_run_code_and_bad_ones_fail_at_load(tmp_path: Path,
                                                               text: str) -> None:
    problems = _problems(tmp_path, f"entity: customer\nfields:\n  city: {{expr: \"{text}\"}}\n")
    assert [(line, path) for line, path, _ in problems] == [("3", "fields.city.expr")]
    assert problems[0][2].startswith("invalid expression")


def test_plugin_transform_by_dotted_path(tmp_path: Path) -> None:
    m = _load(tmp_path, """
entity: customer
on_invalid: quarantine
fields:
  loyalty_tier: {column: Punkte, transform: "tests.mappings.plugin_transforms:loyalty_tier",
                 outbound_transform: tests.mappings.plugin_transforms.shout}
""")
    assert m.inbound({"Punkte": "1500"})[0] == {"loyalty_tier": "gold"}
    assert m.outbound({"loyalty_tier": "gold"}) == {"Punkte": "gold!"}
    with pytest.raises(MappingError) as info:
        m.inbound({"Punkte": "-5"})
    assert info.value.field == "loyalty_tier" and "refused" in info.value.reason
    assert "-5" not in str(info.value)


def test_plugin_transform_from_the_entry_point_group(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "site" / "kontor_test_transforms-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kontor-test-transforms\n"
                                   "Version: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text(
        "[kontor.transforms]\ntier = tests.mappings.plugin_transforms:loyalty_tier\n",
        encoding="utf-8")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "site"), *sys.path])
    plugins.registered.cache_clear()
    try:
        m = _load(tmp_path, "entity: customer\nfields:\n"
                  "  loyalty_tier: {column: P, transform: tier}\n")
        assert m.inbound({"P": "150"})[0] == {"loyalty_tier": "silver"}
    finally:
        plugins.registered.cache_clear()


def test_validation_names_file_line_and_key_for_every_problem(tmp_path: Path) -> None:
    problems = _problems(tmp_path, """entity: customer
fields:
  shoe_size: Schuh
  loyalty_tier: {column: P, transform: no_such_transform}
  city: {column: O, transform: "tests.mappings.plugin_transforms:NOPE"}
  status: {column: S, transform: "tests.mappings.plugin_transforms:NOT_A_FUNCTION"}
  date_of_birth: {column: G, normalise: [email]}
computed:
  X: "shoe_size & '!'"
""")
    assert [(line, path) for line, path, _ in problems] == [
        ("3", "fields.shoe_size"), ("4", "fields.loyalty_tier.transform"),
        ("5", "fields.city.transform"), ("6", "fields.status.transform"),
        ("7", "fields.date_of_birth.normalise"), ("9", "computed.X")]
    messages = [m for _, _, m in problems]
    assert "unknown canonical field 'shoe_size'" in messages[0]
    assert "unknown transform 'no_such_transform'" in messages[1]
    assert "not a function" in messages[3]


@pytest.mark.parametrize(("field", "message"), [
    ("{column: A, expr: 'B'}", "exactly one of column, columns"),
    ("{columns: [A, B]}", "columns needs join"),
    ("{column: A, split: name, part: middle}", "part must be one of first, last"),
    ("{column: A, part: first}", "part needs split"),
])
def test_field_shapes_are_checked(tmp_path: Path, field: str, message: str) -> None:
    problems = _problems(tmp_path, f"entity: customer\nfields:\n  city: {field}\n")
    assert problems[0][1] == "fields.city" and message in problems[0][2]


def test_dates_in_several_formats_still_convert(tmp_path: Path) -> None:
    for fmt, text in (("%d.%m.%Y", "31.12.1980"), ("%m/%d/%Y", "12/31/1980"),
                      ("%Y%m%d", "19801231")):
        m = _load(tmp_path, f"entity: customer\nfields:\n"
                  f"  date_of_birth: {{column: D, format: '{fmt}'}}\n")
        assert m.inbound({"D": text})[0]["date_of_birth"] == dt.date(1980, 12, 31)
        assert m.outbound({"date_of_birth": dt.date(1980, 12, 31)}) == {"D": text}


@pytest.mark.parametrize("text", ["(" * 400 + "Ort" + ")" * 400, "-" * 400 + "1",
                                  "not " * 400 + "Ort", "upper(" * 60 + "Ort" + ")" * 60,
                                  " & ".join(["Ort"] * 1000)])
def test_deep_nesting_is_a_clear_mapping_error_not_a_recursion_error(tmp_path: Path,
                                                                    text: str) -> None:
    problems = _problems(tmp_path, f"entity: customer\nfields:\n  city: {{expr: \"{text}\"}}\n")
    assert [(line, path) for line, path, _ in problems] == [("3", "fields.city.expr")]
    assert problems[0][2].startswith("invalid expression:")
    assert "nested too deeply" in problems[0][2] or "chain" in problems[0][2]


def test_fifty_levels_of_nesting_still_load(tmp_path: Path) -> None:
    m = _load(tmp_path, "entity: customer\nfields:\n  city: {expr: \""
              + "(" * 49 + "upper(Ort)" + ")" * 49 + "\"}\n")
    assert m.inbound({"Ort": "bonn"})[0] == {"city": "BONN"}
