"""Duplicate clusters among a set of records, in memory and without writing anything.

Used by ``kontor dedupe SYSTEM`` (the records of one source, as its mapping reads them)
and by the quality report. The same blocking keys, candidate ranking and scoring as the
sync's matcher; pairs at or above the review threshold join one cluster. Memory grows with
the records held (about half a KiB each): a report, not a sync.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hub.matching import profile as prof
from hub.matching.score import explain, score_pairs
from hub.matching.settings import FuzzySettings


@dataclass
class Cluster:
    keys: list[str]  # the records' keys in their system
    best: float  # the strongest pair's match probability
    weakest: float  # the weakest link holding the cluster together
    evidence: dict[str, str] = field(default_factory=dict)  # of the strongest pair


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def clusters(entity: str, records: Iterable[tuple[str, Mapping[str, Any]]],
             fuzzy: FuzzySettings, rules: list[list[str]]) -> list[Cluster]:
    """Clusters of records that are probably one person (rule keys or scoring)."""
    keys: list[str] = []
    profiles: list[prof.Profile] = []
    blocks: dict[str, list[int]] = defaultdict(list)
    exact: list[tuple[int, int]] = []
    rule_first: dict[str, int] = {}
    for n, (key, values) in enumerate(records):
        keys.append(key)
        p = prof.profile(entity, values)
        profiles.append(p)
        for text in prof.blocking_texts(p, list(fuzzy.blocking)):
            blocks[text].append(n)
        for rule_key in prof.rule_texts(values, rules):
            if rule_key is not None:
                if rule_key in rule_first:
                    exact.append((rule_first[rule_key], n))
                else:
                    rule_first[rule_key] = n
    pairs = sorted({(a, b) for members in blocks.values() if len(members) <= fuzzy.max_block
                    for i, a in enumerate(members) for b in members[i + 1:]})
    left = [profiles[a] for a, _ in pairs]
    right = [profiles[b] for _, b in pairs]
    probability, evidence = score_pairs(left, right, {str(k): v for k, v in
                                                      fuzzy.weights.items()})
    parent = list(range(len(keys)))
    links: list[tuple[int, int, float, dict[str, str]]] = [
        (a, b, 1.0, {"rule": "same key"}) for a, b in exact]
    for k in np.flatnonzero(probability >= fuzzy.review):
        a, b = pairs[k]
        links.append((a, b, float(probability[k]), explain(evidence, int(k))))
    for a, b, _, _ in links:
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    grouped: dict[int, list[int]] = defaultdict(list)
    for n in range(len(keys)):
        grouped[_find(parent, n)].append(n)
    strongest: dict[int, tuple[float, float, dict[str, str]]] = {}
    for a, _, s, ev in links:
        root = _find(parent, a)
        best, weakest, best_ev = strongest.get(root, (0.0, 1.0, {}))
        strongest[root] = (max(best, s), min(weakest, s), ev if s >= best else best_ev)
    return sorted((Cluster([keys[n] for n in members], *strongest[root])
                   for root, members in grouped.items() if len(members) > 1),
                  key=lambda c: (-len(c.keys), -c.best, c.keys))
