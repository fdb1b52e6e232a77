"""The SCIM filter and PATCH-path parser (RFC 7644 §3.4.2.2, §3.5.2), on its own."""

from __future__ import annotations

import pytest

from hub.api.scim.filter import (
    And,
    AttrPath,
    Compare,
    FilterError,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    parse,
    parse_path,
)
from hub.api.scim.patch import matches


def cmp(attr: str, op: str, value: object, sub: str | None = None) -> Compare:
    return Compare(AttrPath(None, attr, sub), op, value)


def test_every_operator_and_value_kind() -> None:
    for op in ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Sw"):
        assert parse(f'userName {op} "x"') == cmp("userName", op.lower(), "x")
    assert parse("title pr") == Present(AttrPath(None, "title"))
    assert parse("active eq true") == cmp("active", "eq", True)
    assert parse("active eq False") == cmp("active", "eq", False)
    assert parse("manager eq null") == cmp("manager", "eq", None)
    assert parse("count gt 5") == cmp("count", "gt", 5)
    assert parse("score le -1.5e2") == cmp("score", "le", -150.0)
    assert parse(r'displayName eq "say \"hi\" \u00e9"') == cmp("displayName", "eq",
                                                                 'say "hi" é')


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    a, b, c = cmp("a", "eq", 1), cmp("b", "eq", 2), cmp("c", "eq", 3)
    assert parse("a eq 1 or b eq 2 and c eq 3") == Or(a, And(b, c))
    assert parse("(a eq 1 or b eq 2) and c eq 3") == And(Or(a, b), c)
    assert parse("a eq 1 and not (b eq 2 or c eq 3)") == And(a, Not(Or(b, c)))
    assert parse("a eq 1 AND b eq 2 OR c eq 3") == Or(And(a, b), c)


def test_attribute_paths_with_schema_uris_and_sub_attributes() -> None:
    uri = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    assert parse(f'{uri}:department eq "IT"') == Compare(AttrPath(uri, "department"), "eq",
                                                         "IT")
    assert parse('name.familyName sw "M"') == cmp("name", "sw", "M", sub="familyName")
    assert parse('meta.lastModified gt "2011-05-13T04:42:34Z"').path.key == \
        "meta.lastmodified"


def test_value_paths() -> None:
    node = parse('emails[type eq "work" and value co "@example.com"] or title pr')
    assert node == Or(ValuePath(AttrPath(None, "emails"),
                                And(cmp("type", "eq", "work"),
                                    cmp("value", "co", "@example.com"))),
                      Present(AttrPath(None, "title")))


def test_patch_paths() -> None:
    assert parse_path("name.givenName") == PatchPath(AttrPath(None, "name", "givenName"))
    assert parse_path('emails[type eq "work"].value') == PatchPath(
        AttrPath(None, "emails"), cmp("type", "eq", "work"), "value")
    uri = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    assert parse_path(f"{uri}:manager").path == AttrPath(uri, "manager")


@pytest.mark.parametrize("text, where", [
    ('userName eq', "end"), ('userName xx "a"', "position 10"), ('(userName pr', "end"),
    ('userName pr)', "position 12"), ('userName eq "open', "position 13"),
    ('"x" eq "y"', "position 1"), ('userName eq bare', "position 13"), ("", "end"),
    ('emails[type eq "work"', "end"), ("not userName pr", "position 5"),
])
def test_syntax_errors_name_the_position_never_the_text(text: str, where: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse(text)
    assert where in str(caught.value)
    for word in ("bare", "open", "xx"):
        assert word not in str(caught.value)


def test_limits_against_hostile_filters() -> None:
    with pytest.raises(FilterError, match="deeper"):
        parse("(" * 40 + "a pr" + ")" * 40)
    with pytest.raises(FilterError, match="longer"):
        parse("a pr or " * 1000 + "a pr")
    long_chain = " or ".join(["a pr"] * 300)  # long but flat: fine
    assert isinstance(parse(long_chain), Or)


def test_value_filters_match_elements_case_insensitively() -> None:
    work = {"type": "work", "value": "Ann@Example.com", "primary": True}
    assert matches(work, parse('type eq "WORK" and value ew "example.com"'))
    assert not matches(work, parse('type eq "home"'))
    assert matches(work, parse("primary eq true and value pr"))
    assert matches(work, parse('not (type eq "home")'))
