"""Precision and recall of "merge automatically at this threshold", from the steward's
review decisions.

A review pair carries the match probability the matcher gave it and, once decided, the
steward's answer: ``merged`` (one person) or ``kept_apart`` (two). For a threshold t, the
decided pairs scoring at least t are the ones an auto-merge at t would have merged:

- precision(t) = pairs at or above t the steward merged / decided pairs at or above t;
- recall(t)    = pairs at or above t the steward merged / every pair the steward merged.

Only a steward's decisions count: not open pairs, not ``obsolete`` ones (one side merged
away before anyone decided), not merges the hub made itself (no ``decided_by``, or
"auto"), and not the rows a hand merge or unmerge of two records that were never a review
pair leaves (no matcher score: their ``evidence`` is only ``{"decided": ...}``).
Review pairs exist only between the review and the auto-merge threshold in force when
they were raised, so the figures describe that band; above it nobody was asked.

The thresholds are hundredths; scores are counted into one bucket per hundredth while the
rows stream past, so memory does not grow with the number of decisions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from hub.store import bulk
from hub.store.matching_tables import ReviewPair

DECIDED = ("merged", "kept_apart")
FIXED = "fixed"  # the scorer of pairs raised without a trained model (fixed weights)
TARGET = 0.99


def minimum_decisions(target: float) -> int:
    """Decided pairs a threshold needs before precision ``target`` can be claimed.

    The rule of three: with no wrong merge among n decisions, the share of wrong merges
    is below 3/n with 95% confidence; so showing it below 1 - target takes 3/(1 - target)
    decisions (300 for 0.99), and fewer cannot tell, however many were right."""
    return math.ceil(3 / (1 - target) - 1e-9)


def _hundredths(score: float) -> int:
    """The largest k with score >= k/100 (0.29 * 100 is 28.999...: compare, not floor)."""
    k = math.floor(score * 100)
    if score >= (k + 1) / 100:
        k += 1
    elif score < k / 100:
        k -= 1
    return max(0, min(100, k))


@dataclass(frozen=True)
class Point:
    threshold: float
    pairs_above: int       # decided pairs scoring at or above the threshold
    same_above: int        # ... of which the steward merged
    precision: float | None  # None: no decided pair at or above
    recall: float | None     # None: the steward merged no pair at all


@dataclass(frozen=True)
class Suggestion:
    status: str            # suggested | too_few | unreached | no_decisions
    threshold: float | None
    pairs_above: int
    precision: float | None
    recall: float | None
    target: float
    needed: int            # decided pairs needed at or above (minimum_decisions)

    def text(self) -> str:
        if self.status == "no_decisions":
            return ("no decided review pairs yet: decide some (kontor steward review, "
                    "kontor steward decide, or the dashboard's review page)")
        if self.status == "unreached":
            return (f"no threshold reaches precision {self.target:g}: every threshold "
                    "merges pairs the steward kept apart")
        at = (f"{self.threshold:.2f} (precision {self.precision:.3f}, recall "
              f"{self.recall:.3f}, from {self.pairs_above} decided pairs at or above it)")
        if self.status == "too_few":
            return (f"too few decisions: precision ≥ {self.target:g} from {at}; at least "
                    f"{self.needed} are needed to show fewer than {1 - self.target:.0%} "
                    "wrong merges (95% confidence)")
        return f"lowest threshold with precision ≥ {self.target:g}: {at}"


@dataclass
class Curve:
    """The decisions of one entity, counted per hundredth of score."""

    entity: str
    model: str | None = None                 # only pairs of this scorer, if given
    merged: list[int] = field(default_factory=lambda: [0] * 101)
    kept_apart: list[int] = field(default_factory=lambda: [0] * 101)
    scorers: dict[str, int] = field(default_factory=dict)  # scorer -> decided pairs
    unscored: int = 0          # decided by hand, never scored by the matcher
    other_scorers: int = 0     # left out by ``model``

    @property
    def decisions(self) -> int:
        return sum(self.merged) + sum(self.kept_apart)

    @property
    def same(self) -> int:
        return sum(self.merged)

    def add(self, score: float, same: bool) -> None:
        (self.merged if same else self.kept_apart)[_hundredths(score)] += 1

    def point(self, k: int) -> Point:
        same, other = sum(self.merged[k:]), sum(self.kept_apart[k:])
        total = self.same
        return Point(k / 100, same + other, same,
                     same / (same + other) if same + other else None,
                     same / total if total else None)

    def lowest(self) -> int:
        """The hundredth of the lowest decided score (0 without decisions)."""
        return next((k for k in range(101) if self.merged[k] or self.kept_apart[k]), 0)

    def points(self, step: int = 1) -> list[Point]:
        """One point every ``step`` hundredths, from the lowest decided score's hundredth
        (rounded down to the step) to 0.99; none without decisions."""
        if not self.decisions:
            return []
        start = self.lowest() // step * step
        return [self.point(k) for k in range(start, 100, step)]

    def suggestion(self, target: float = TARGET) -> Suggestion:
        """The lowest threshold whose precision reaches ``target`` and that rests on
        enough decisions (``minimum_decisions``)."""
        needed = minimum_decisions(target)
        if not self.decisions:
            return Suggestion("no_decisions", None, 0, None, None, target, needed)
        reaching = [p for p in self.points() if p.precision is not None
                    and p.precision >= target - 1e-12]
        enough = [p for p in reaching if p.pairs_above >= needed]
        if enough:
            p, status = enough[0], "suggested"
        elif reaching:
            p, status = reaching[0], "too_few"
        else:
            return Suggestion("unreached", None, 0, None, None, target, needed)
        return Suggestion(status, p.threshold, p.pairs_above, p.precision, p.recall, target,
                          needed)


def scorer_of(evidence: Any) -> str | None:
    """The model version that scored a pair, ``FIXED`` for fixed weights, None for a
    pair no matcher scored (a hand merge's or unmerge's own row)."""
    if not isinstance(evidence, dict):
        return FIXED
    if "decided" in evidence:  # {"decided": "by steward"}, or who merged: no comparison
        return None
    model = evidence.get("model")
    return str(model) if model else FIXED


def curve(conn: Connection, entity: str, *, model: str | None = None,
          batch: int = 2000) -> Curve:
    """Count the steward's decisions on ``entity``'s review pairs (``model``: only the
    pairs that model version scored, or ``FIXED``)."""
    t = bulk.table_of(ReviewPair)
    found = Curve(entity, model)
    stmt = select(t.c.score, t.c.status, t.c.evidence).where(
        t.c.entity == entity, t.c.status.in_(DECIDED), t.c.decided_by.is_not(None),
        t.c.decided_by != "auto")  # a merge the hub made itself is no steward's answer
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(stmt)
    for score, status, evidence in result:
        scorer = scorer_of(evidence)
        if scorer is None:
            found.unscored += 1
            continue
        found.scorers[scorer] = found.scorers.get(scorer, 0) + 1
        if model is not None and scorer != model:
            found.other_scorers += 1
            continue
        found.add(float(score), status == "merged")
    return found


def summary(found: Curve, *, step: int = 5, target: float = TARGET) -> dict[str, Any]:
    """The figures as plain data (the CLI's --json and the HTML page)."""
    hint = found.suggestion(target)
    return {
        "entity": found.entity, "model": found.model, "decisions": found.decisions,
        "same": found.same, "different": found.decisions - found.same,
        "scorers": dict(sorted(found.scorers.items())), "unscored": found.unscored,
        "other_scorers": found.other_scorers,
        "thresholds": [asdict(p) for p in found.points(step)],
        "suggestion": {**asdict(hint), "text": hint.text()},
    }
