"""Scoring and blocking: the evidence each realistic corruption leaves, and what it yields."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hub.matching.profile import blocking_texts, profile, rule_texts
from hub.matching.score import score, score_pairs
from hub.matching.settings import FuzzySettings

ANNA = {"first_name": "Anna", "last_name": "Müller", "date_of_birth": dt.date(1980, 3, 4),
        "street": "Hauptstraße 5", "postal_code": "10115", "city": "Berlin",
        "phone": "+49301234567", "email": "anna.mueller@example.org"}
AUTO, REVIEW = FuzzySettings().auto_merge, FuzzySettings().review


def _p(**changes: Any) -> Any:
    values = {**ANNA, **changes}
    return profile("customer", {k: v for k, v in values.items() if v is not None})


@pytest.mark.parametrize(("label", "other"), [
    ("spelling of the umlaut", {"last_name": "Mueller"}),
    ("typo in the first name", {"first_name": "Anan"}),
    ("first and last name swapped", {"first_name": "Müller", "last_name": "Anna"}),
    ("nickname", {"first_name": "Anni"}),
    ("street abbreviated", {"street": "Hauptstr. 5"}),
    ("moved, other email", {"street": "Ringstraße 9", "postal_code": "80331",
                            "city": "München", "email": "anna@web.de"}),
    ("day and month swapped", {"date_of_birth": dt.date(1980, 4, 3)}),
    ("no phone, no email", {"phone": None, "email": None}),
])
def test_duplicates_with_realistic_corruption_score_high(label: str, other: dict) -> None:
    probability, evidence = score(_p(), _p(**other))
    assert probability >= REVIEW, (label, probability, evidence)


@pytest.mark.parametrize(("label", "other", "at_most"), [
    ("her sister at the same address", {"first_name": "Lena",
                                        "date_of_birth": dt.date(1984, 7, 1),
                                        "email": "lena@example.org"}, 0.05),
    ("same name, other person elsewhere", {"date_of_birth": dt.date(1955, 1, 9),
                                           "street": "Am Markt 1", "postal_code": "04109",
                                           "city": "Leipzig", "phone": "+49341999999",
                                           "email": "a.m@example.net"}, 0.01),
    ("twin sister: same birthday, address and phone", {"first_name": "Lena",
                                                       "email": None}, AUTO),
    ("neighbour: same street, other number", {"first_name": "Paul", "last_name": "Weber",
                                              "street": "Hauptstraße 7", "phone": None,
                                              "email": None}, 0.01),
])
def test_different_people_stay_below_auto_merge(label: str, other: dict, at_most: float) -> None:
    probability, evidence = score(_p(), _p(**other))
    assert probability < at_most, (label, probability, evidence)


def test_evidence_names_levels_never_values() -> None:
    _, evidence = score(_p(), _p(first_name="Annaa", street="Hauptstr. 5"))
    assert evidence == {"last": "exact", "first": "close", "date_of_birth": "exact",
                        "address": "exact", "phone": "exact", "email": "exact"}
    assert not any("Anna" in v or "Haupt" in v for v in evidence.values())


def test_missing_fields_are_no_evidence_either_way() -> None:
    sparse = profile("customer", {"first_name": "Anna", "last_name": "Müller"})
    probability, evidence = score(_p(), sparse)
    assert set(evidence) == {"last", "first"}
    assert REVIEW > probability > 0.01  # a name alone is never enough, nor a reason to part


def test_vectorised_scores_equal_single_pair_scores() -> None:
    others = [_p(first_name="Anan"), _p(last_name="Anna", first_name="Müller"), _p(),
              _p(date_of_birth=None, phone=None)]
    many, _ = score_pairs([_p()] * len(others), others)
    assert [round(float(x), 9) for x in many] == [round(score(_p(), o)[0], 9) for o in others]


def test_blocking_keys_meet_despite_swapped_or_mistyped_names() -> None:
    kinds = ["name_dob", "name_postal", "phone"]
    base = set(blocking_texts(_p(), kinds))
    assert base & set(blocking_texts(_p(first_name="Müller", last_name="Anna"), kinds))
    assert base & set(blocking_texts(_p(last_name="Mülller", phone=None), kinds))
    assert base & set(blocking_texts(_p(date_of_birth=None, first_name="X"), kinds))
    stranger = _p(first_name="Paul", last_name="Weber", date_of_birth=dt.date(1970, 1, 1),
                  postal_code="99999", phone="+49891111111")
    assert not base & set(blocking_texts(stranger, kinds))


def test_rule_keys_normalise_case_and_spaces_and_need_every_field() -> None:
    rules = [["tax_id"], ["last_name", "date_of_birth"]]
    a = rule_texts({"tax_id": " 12 345 ", "last_name": "Müller",
                    "date_of_birth": dt.date(1980, 3, 4)}, rules)
    b = rule_texts({"tax_id": "12 345", "last_name": "MÜLLER",
                    "date_of_birth": dt.date(1980, 3, 4)}, rules)
    assert a == b and all(a)
    assert rule_texts({"last_name": "Müller"}, rules) == [None, None]
