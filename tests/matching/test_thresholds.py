"""Precision and recall by threshold from decisions: the arithmetic, checked by hand."""

from __future__ import annotations

import pytest

from hub.matching.thresholds import (
    FIXED,
    Curve,
    _hundredths,
    minimum_decisions,
    scorer_of,
    summary,
)


def _curve(decisions: list[tuple[float, bool]]) -> Curve:
    found = Curve("customer")
    for score, same in decisions:
        found.add(score, same)
    return found


def test_a_small_case_by_hand() -> None:
    # five decisions: 0.81 kept apart, 0.86 merged, 0.88 kept apart, 0.93 merged, 0.97 merged
    found = _curve([(0.81, False), (0.86, True), (0.88, False), (0.93, True), (0.97, True)])
    assert (found.decisions, found.same) == (5, 3)
    table = {p.threshold: (p.pairs_above, p.same_above, p.precision, p.recall)
             for p in found.points(step=5)}
    assert list(table) == [0.80, 0.85, 0.90, 0.95]
    assert table[0.80] == (5, 3, 3 / 5, 3 / 3)   # everything merged: 2 of 5 wrong
    assert table[0.85] == (4, 3, 3 / 4, 3 / 3)   # 0.81 no longer merged
    assert table[0.90] == (2, 2, 2 / 2, 2 / 3)   # only 0.93 and 0.97: no error, 0.86 missed
    assert table[0.95] == (1, 1, 1.0, 1 / 3)
    fine = {p.threshold: p for p in found.points()}
    assert min(fine) == 0.81 and max(fine) == 0.99
    assert fine[0.88].pairs_above == 3 and fine[0.89].pairs_above == 2
    assert fine[0.98].pairs_above == 0 and fine[0.98].precision is None
    assert fine[0.98].recall == 0.0
    hint = found.suggestion()
    # 0.89 is the lowest threshold where precision is 1, but on two decisions only
    assert (hint.status, hint.threshold, hint.pairs_above) == ("too_few", 0.89, 2)
    assert hint.precision == 1.0 and hint.recall == pytest.approx(2 / 3)
    assert "too few decisions" in hint.text() and "at least 300" in hint.text()


def test_a_score_on_a_threshold_counts_as_at_or_above_it() -> None:
    assert [_hundredths(s) for s in (0.29, 0.57, 0.8, 0.7999, 0.95, 1.0, 0.0)] == \
        [29, 57, 80, 79, 95, 100, 0]
    found = _curve([(0.29, True), (0.57, False)])
    assert found.point(29).pairs_above == 2 and found.point(30).pairs_above == 1


def test_enough_decisions_give_a_suggestion() -> None:
    assert minimum_decisions(0.99) == 300 and minimum_decisions(0.95) == 60
    # 0.90-0.99: 400 merged, 2 kept apart at 0.91 (precision 400/402 = 0.995 from 0.90);
    # 0.70-0.89: 50 merged, 50 kept apart
    decisions = [((90 + i % 10) / 100, True) for i in range(400)]
    decisions += [(0.91, False), (0.91, False)]
    decisions += [((70 + i % 20) / 100, i % 2 == 0) for i in range(100)]
    found = _curve(decisions)
    hint = found.suggestion()
    assert (hint.status, hint.threshold, hint.pairs_above) == ("suggested", 0.90, 402)
    assert hint.precision == pytest.approx(400 / 402)
    assert hint.recall == pytest.approx(400 / 450)
    assert hint.text().startswith("lowest threshold with precision ≥ 0.99: 0.90")
    # a stricter target needs more decisions, and this data does not reach it at 0.90
    strict = found.suggestion(0.999)
    assert strict.needed == 3000 and strict.status == "too_few" and strict.threshold == 0.92


def test_no_threshold_reaching_the_target_and_no_decisions_say_so() -> None:
    found = _curve([(0.85, True), (0.95, False)])
    hint = found.suggestion()
    assert hint.status == "unreached" and hint.threshold is None
    assert "no threshold reaches precision 0.99" in hint.text()
    empty = Curve("employee")
    assert empty.points() == [] and empty.suggestion().status == "no_decisions"
    figures = summary(empty)
    assert figures["thresholds"] == [] and figures["decisions"] == 0
    assert "no decided review pairs yet" in figures["suggestion"]["text"]


def test_the_scorer_of_a_pair() -> None:
    assert scorer_of({"model": "abc123", "first_name": "exact"}) == "abc123"
    assert scorer_of({"first": "exact"}) == FIXED
    assert scorer_of({"decided": "by steward"}) is None  # a hand merge: no score
    assert scorer_of({"decided": "alice"}) is None
