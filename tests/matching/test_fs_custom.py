"""Custom comparisons (any field, a kind or its category's default) and configurable
blocking rules over any field and function."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hub.matching import fs_blocking as fb
from hub.matching import fs_compare as fc
from hub.matching import fs_fields, fs_model
from hub.matching.fs_blocking_report import report

ANNA = {"first_name": "Anna", "last_name": "Müller", "date_of_birth": "1980-03-04",
        "national_id": "DE-1234 567", "state": "Bayern", "line2": "Apartment 5B",
        "income": "52000"}


def _level(c: fc.Comparison, a: dict[str, Any], b: dict[str, Any]) -> str:
    f = fc.Frame([a, b], fields=c.fields)
    level = int(fc.gammas(f, np.array([0]), np.array([1]), (c,))[0, 0])
    return "null" if level < 0 else c.levels[level]


@pytest.mark.parametrize(("field", "kind", "other", "level"), [
    ("national_id", "exact", "de1234567", "exact"),
    ("national_id", "exact", "DE-1234 568", "else"),
    ("national_id", "exact", "", "null"),
    ("line2", "jaro_winkler", "Apartment 5 B", "jw_0.92"),
    ("line2", "jaro_winkler", "Apartmnt 6C", "jw_0.80"),
    ("state", "name", "BAYERN", "exact"),
    ("income", "numeric", "52000.0", "exact"),
    ("income", "numeric", "52400", "within_0.01"),
    ("income", "numeric", "50000", "within_0.10"),
    ("income", "numeric", "n/a", "null"),
    ("date_of_birth_2", "date", "04.03.1980", "exact"),
])
def test_kinds(field: str, kind: str, other: str, level: str) -> None:
    base = {**ANNA, "date_of_birth_2": "1980-03-04"}
    assert _level(fs_fields.comparison(field, kind), base, {**base, field: other}) == level


def test_golden_rows_hold_custom_values_in_custom() -> None:
    c = fs_fields.comparison("national_id", "exact")
    golden = {"first_name": "Anna", "custom": {"national_id": "DE1234567"}}
    assert _level(c, ANNA, golden) == "exact"


def test_default_kind_by_category() -> None:
    assert fs_fields.default_kind("user.government_id.national_identification_number") == \
        "exact"
    assert fs_fields.default_kind("user.contact.address.state") == "exact"
    assert fs_fields.default_kind("user.contact.address.street") == "jaro_winkler"
    assert fs_fields.default_kind("user.name") == "name"
    assert fs_fields.default_kind("user.demographic", "date") == "date"
    assert fs_fields.default_kind("user.financial.salary", "decimal") == "numeric"


def test_bad_comparisons_are_named() -> None:
    with pytest.raises(ValueError, match="'first_name' is a built-in"):
        fs_fields.comparison("first_name", "exact")
    with pytest.raises(ValueError, match="unknown kind 'fuzzy'"):
        fs_fields.comparison("x", "fuzzy")
    with pytest.raises(ValueError, match="strictest to the loosest"):
        fs_fields.comparison("x", "jaro_winkler", [0.8, 0.9])


def _rows() -> list[dict[str, Any]]:
    names = ["Meier", "Maier", "Mayer", "Schulz", "Schultz", "Weber", "Webber", ""]
    return [{"first_name": "Anna", "last_name": names[k % len(names)],
             "date_of_birth": f"{1980 + k % 3}-01-0{1 + k % 5}" if k % 7 else "",
             "national_id": f"ID{k % 11}" if k % 4 else ""} for k in range(60)]


def test_a_rule_of_parts_pairs_exactly_the_records_sharing_every_part() -> None:
    rows = _rows()
    rule = fb.rule(["soundex(last_name)", "year(date_of_birth)"])
    f = fc.Frame(rows)
    i, j = fc.blocked_pairs(f, [rule], max_block=1000)
    brute = {(a, b) for a, b in itertools.combinations(range(len(rows)), 2)
             if rows[a]["last_name"] and rows[a]["date_of_birth"] and rows[b]["date_of_birth"]
             and fb.soundex(rows[a]["last_name"].lower()) ==
             fb.soundex(rows[b]["last_name"].lower())
             and rows[a]["date_of_birth"][:4] == rows[b]["date_of_birth"][:4]}
    assert set(zip(i.tolist(), j.tolist())) == brute
    # a custom field; rules are unioned; a block over max_block is left out
    by_id = fb.rule(["national_id"])
    f = fc.Frame(rows, fields=["national_id"])
    ids = set(zip(*[x.tolist() for x in fc.blocked_pairs(f, [by_id], 1000)]))
    assert ids == {(a, b) for a, b in itertools.combinations(range(len(rows)), 2)
                   if rows[a]["national_id"] and rows[a]["national_id"] == rows[b]["national_id"]}
    both = set(zip(*[x.tolist() for x in fc.blocked_pairs(f, [rule, by_id], 1000)]))
    assert both == brute | ids
    size = Counter(r["national_id"] for r in rows if r["national_id"])
    small = set(zip(*[x.tolist() for x in fc.blocked_pairs(f, [by_id], max_block=3)]))
    assert small == {(a, b) for a, b in ids if size[rows[a]["national_id"]] <= 3}
    assert small and small != ids  # blocks of 4 and more are left out


@pytest.mark.parametrize(("spec", "message"), [
    (["soundex(last_name, 3)"], "takes the field only"),
    (["first(last_name)"], "needs a length"),
    (["upper(last_name)"], "unknown function 'upper'"),
    (["last_name +"], "is not a key part"),
    ("no_such_rule", "unknown blocking rule"),
])
def test_bad_rules_are_named(spec: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fb.rule(spec)


def test_first_last_initial_digits() -> None:
    rows = [{"last_name": "Schmidt", "phone": "+49 30 1234567", "first_name": "Anna"},
            {"last_name": "Schmitz", "phone": "030/1234567", "first_name": "Anja"}]
    f = fc.Frame(rows)
    for parts, same in ((["first(last_name, 4)"], True), (["first(last_name, 6)"], False),
                        (["last(phone, 7)"], True), (["initial(first_name)"], True),
                        (["digits(phone)"], False), (["first(first_name, 3)"], False)):
        keys = fb.block_keys(f, parts)
        assert (keys[0] == keys[1]) == same, parts


def test_custom_comparison_and_rules_are_trained_saved_and_loaded(tmp_path: Path) -> None:
    from bench import person_data

    d = person_data.linkage(2000, seed=11)
    truth = [d.truth[k] for k, _, _ in d.records]
    # a national id per person, missing for some, mistyped for a few
    rows = [{**v, "national_id": "" if t % 5 == 0 else f"X{t:07d}" if n % 17 else f"X{t:07d}9"}
            for n, ((_, _, v), t) in enumerate(zip(d.records, truth))]
    keys = [k for k, _, _ in d.records]
    sources = [s for _, s, _ in d.records]
    model = fs_model.train(keys, rows, sources=sources, u_pairs=50_000,
                           comparisons=[fs_fields.comparison("national_id", "exact")],
                           blocking=[*fs_model.BLOCKING_RULES, ("national_id",)])
    k = [c.name for c in model.comparisons].index("national_id")
    assert model.bits()[k][0] > 8 and model.bits()[k][1] < -2  # agreeing: strong evidence
    path = tmp_path / "m.json"
    model.save(path)
    loaded = fs_model.Model.load(path)
    assert loaded.version == model.version and loaded.fields == ("national_id",)
    assert loaded.blocking[-1] == ("national_id",)
    f = loaded.frame(rows)
    i, j = fc.blocked_pairs(f, loaded.blocking, loaded.max_block)
    assert np.allclose(loaded.score(f, i, j).weight, model.score(f, i, j).weight)
    # the blocking report: pairs per rule, recall against the truth and estimated
    src = np.array(sources, dtype=object)
    label = np.array(truth)
    ti, tj = _truth_pairs(label)
    known = report(f, loaded.blocking, loaded.max_block, source=src,
                   truth=(np.array(ti), np.array(tj)))
    guessed = report(f, loaded.blocking, loaded.max_block, source=src, model=loaded)
    assert [r["rule"] for r in known["rules"]][-1] == "national_id"
    assert known["pairs"] == len(fc.blocked_pairs(f, loaded.blocking, 200, src)[0])
    assert known["pairs"] <= sum(r["pairs"] for r in known["rules"])
    assert sum(r["new_pairs"] for r in known["rules"]) == known["pairs"]
    assert known["recall"] > 0.97 and 0 < known["reduction"] < 1
    # each rule's estimate is close to its measured recall; the union's is an upper bound
    for r, g in zip(known["rules"], guessed["rules"]):
        assert abs(r["recall"] - g["recall"]) < 0.03, (r, g)
    assert known["recall"] - 0.005 < guessed["recall"] < known["recall"] + 0.03
    assert guessed["recall_from"].startswith("estimated")


def _truth_pairs(label: np.ndarray) -> tuple[list[int], list[int]]:
    by: dict[int, list[int]] = {}
    for n, t in enumerate(label.tolist()):
        by.setdefault(t, []).append(n)
    pairs = [(a, b) for g in by.values() for a, b in itertools.combinations(g, 2)]
    return [a for a, _ in pairs], [b for _, b in pairs]
