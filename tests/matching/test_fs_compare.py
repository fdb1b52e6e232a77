"""Comparison levels and blocking of the Fellegi-Sunter model: what each corruption yields."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hub.matching import fs_compare as fc

ANNA = {"first_name": "Anna", "last_name": "Müller", "date_of_birth": "1980-03-04",
        "street": "Hauptstraße 5", "postal_code": "10115", "city": "Berlin",
        "phone": "+49 30 1234567", "email": "anna.mueller@example.org"}


def _levels(other: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, str]:
    f = fc.Frame([base or ANNA, {**(base or ANNA), **other}])
    g = fc.gammas(f, np.array([0]), np.array([1]))[0]
    return {c.name: ("null" if g[k] < 0 else c.levels[g[k]])
            for k, c in enumerate(fc.COMPARISONS)}


@pytest.mark.parametrize(("change", "comparison", "level"), [
    ({}, "first_name", "exact"),
    ({"first_name": "Sepp"}, "first_name", "else"),
    ({"last_name": "Mueller"}, "last_name", "exact"),
    ({"last_name": "Müler"}, "last_name", "jw_0.92"),
    ({"last_name": "Mühler"}, "last_name", "jw_0.92"),
    ({"first_name": "A."}, "first_name", "initial"),
    ({"first_name": "Müller", "last_name": "Anna"}, "first_name", "swapped"),
    ({"first_name": "Müller", "last_name": "Anna"}, "last_name", "swapped"),
    ({"first_name": "Müller", "last_name": "A."}, "first_name", "swapped"),
    ({"date_of_birth": "1980-04-03"}, "date_of_birth", "day_month_swapped"),
    ({"date_of_birth": "1981-03-04"}, "date_of_birth", "off_by_one"),
    ({"date_of_birth": "1980-03-09"}, "date_of_birth", "two_of_three"),
    ({"date_of_birth": "1980-11-23"}, "date_of_birth", "year"),
    ({"date_of_birth": "04.03.1980"}, "date_of_birth", "exact"),
    ({"date_of_birth": ""}, "date_of_birth", "null"),
    ({"street": "Hauptstr. 5"}, "address", "exact"),
    ({"street": "Hauptstraße 7"}, "address", "same_street_other_number"),
    ({"street": "Bahnhofstraße 1"}, "address", "postal_code"),
    ({"street": "", "postal_code": "", "city": ""}, "address", "null"),
    ({"phone": "030 1234567"}, "phone", "last_nine"),
    ({"email": "anna.mueller@gmail.com"}, "email", "local_part"),
    ({"email": ""}, "email", "null"),
])
def test_levels(change: dict[str, Any], comparison: str, level: str) -> None:
    assert _levels(change)[comparison] == level


def test_nickname_from_the_matchers_list() -> None:
    josef = {**ANNA, "first_name": "Josef"}
    assert _levels({"first_name": "Sepp"}, josef)["first_name"] == "nickname"


def test_an_invalid_date_still_compares() -> None:
    """A date no calendar has is one bad field, not a lost record."""
    bad = {**ANNA, "date_of_birth": "1980-02-30"}
    assert _levels({"date_of_birth": "1980-02-30"}, bad)["date_of_birth"] == "exact"
    assert fc.date_parts("1980-13-04") == (1980, 13, 4)
    assert fc.date_parts("no date") == (0, 0, 0)


def test_soundex() -> None:
    assert fc.soundex("robert") == fc.soundex("rupert") == "r163"
    assert fc.soundex("mueller") == fc.soundex("muller") == "m460"
    assert fc.soundex("") == ""


def test_blocking_unions_rules_and_skips_huge_blocks() -> None:
    rows = [{**ANNA, "email": f"a{n}@x.org", "phone": ""} for n in range(5)] + \
        [{"first_name": "Zoe", "last_name": "Zander", "email": "a0@x.org"}]
    f = fc.Frame(rows)
    i, j = fc.blocked_pairs(f, ["dob", "email"], max_block=10)
    pairs = set(zip(i.tolist(), j.tolist()))
    assert (0, 5) in pairs  # by e-mail only
    assert len(pairs) == 10 + 1 and all(a < b for a, b in pairs)
    i, j = fc.blocked_pairs(f, ["dob"], max_block=4)  # a block of 5 is too common
    assert len(i) == 0
    src = np.array(["a", "a", "b", "b", "b", "b"], dtype=object)
    i, j = fc.blocked_pairs(f, ["dob"], max_block=10, source=src)
    assert set(zip(i.tolist(), j.tolist())) == {(a, b) for a in (0, 1) for b in (2, 3, 4)}
