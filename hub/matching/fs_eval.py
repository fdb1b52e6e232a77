"""Precision, recall and F1 of clusters against known pairs, and a simple baseline.

Pairs are counted from clusters (every two records in one cluster are one predicted
pair), so a chain A-B-C counts A-C too. With ``sources``, only pairs of two different
systems count (linking two exports). Counting goes by cluster sizes, never by listing
pairs: a 1M-record evaluation stays cheap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from hub.matching import fs_compare as fc


def _pairs(groups: Sequence[Hashable], sources: Sequence[str] | None) -> int:
    total = sum(c * (c - 1) // 2 for c in Counter(groups).values())
    if sources is None:
        return total
    same_source = Counter(zip(groups, sources))
    return total - sum(c * (c - 1) // 2 for c in same_source.values())


def scores(truth: Sequence[Hashable], predicted: Sequence[Hashable],
           sources: Sequence[str] | None = None) -> dict[str, float]:
    """P/R/F1 of ``predicted`` cluster labels against ``truth`` labels, per record."""
    true_pairs = _pairs(truth, sources)
    found = _pairs(predicted, sources)
    hits = _pairs(list(zip(truth, predicted)), sources)
    precision = hits / found if found else 1.0
    recall = hits / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": true_pairs,
            "predicted_pairs": found}


def truth_clusters(keys: Sequence[str], pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Per key, a cluster label from known same-entity pairs (keys in no pair: alone)."""
    parent = {k: k for k in keys}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        if a in parent and b in parent:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return [find(k) for k in keys]


BASELINE_FIELDS = ("first_key", "last", "dob", "street_number", "postal", "phone", "email")


def k_of_n(rows: Sequence[Mapping[str, Any]], k: int = 4, *,
           sources: Sequence[str] | None = None, blocking: Sequence[str] = (
               "dob", "soundex_last_first_year", "name_prefixes_year", "postal_soundex_last",
               "email", "phone"), entity: str = "customer") -> list[int]:
    """Baseline clusters: a blocked pair links when at least ``k`` of the seven normalised
    fields (first name, last name, birth date, street + number, postal code, phone,
    e-mail) are equal and filled on both sides."""
    from hub.matching.fs_model import components

    f = fc.Frame(rows, entity)
    f.col["street_number"] = np.array([f"{s} {n}" if s else "" for s, n in
                                       zip(f.col["street"], f.col["number"])], dtype=object)
    src = np.array(sources, dtype=object) if sources is not None else None
    i, j = fc.blocked_pairs(f, blocking, 200, src)
    agree = np.zeros(len(i), dtype=np.int32)
    for name in BASELINE_FIELDS:
        a, b = f.col[name][i], f.col[name][j]
        agree += (a == b) & (a != "")
    keep = agree >= k
    return components(f.n, i[keep], j[keep])
