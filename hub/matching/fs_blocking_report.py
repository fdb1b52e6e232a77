"""The blocking report: what each rule contributes, how many pairs are scored, and how
many true pairs blocking finds (recall).

Recall is measured against known pairs when there are some (``truth``). Without them it
is estimated from the model: the pairs it links (at ``auto_merge``) stand for the true
ones. A rule's recall is the share of the linked pairs found by the *other* rules that
this rule finds too (a pair only one rule finds says nothing of that rule); the union's
estimated recall is ``1 - prod(1 - recall)``. That assumes the rules miss independently:
rules over the same fields miss together, so read it as an upper bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hub.matching import fs_blocking as fb
from hub.matching.fs_frame import Frame


def _possible(n: int, source: np.ndarray | None) -> float:
    if source is None:
        return n * (n - 1) / 2
    _, counts = np.unique(source, return_counts=True)
    return float((counts.sum() ** 2 - (counts ** 2).sum()) / 2)


def report(f: Frame, specs: Sequence[fb.RuleSpec], max_block: int, *,
           source: np.ndarray | None = None,
           truth: tuple[np.ndarray, np.ndarray] | None = None,
           model: Any = None) -> dict[str, Any]:
    """Per rule and in total: pairs, pairs new to that rule, records left out (in blocks
    over ``max_block``), and recall (known: ``truth`` as index pairs; estimated: ``model``,
    a ``fs_model.Model``)."""
    rules = fb.rules(specs)
    per_rule = [fb.rule_codes(f, r, max_block, source) for r in rules]
    union = np.unique(np.concatenate(per_rule)) if per_rule else np.zeros(0, np.int64)
    possible = _possible(f.n, source)
    rows: list[dict[str, Any]] = []
    seen = np.zeros(0, np.int64)
    for r, codes in zip(rules, per_rule):
        keys = r.keys(f)
        present = keys >= 0
        _, inverse, sizes = np.unique(keys[present], return_inverse=True, return_counts=True)
        rows.append({"rule": r.name, "pairs": len(codes),
                     "new_pairs": len(np.setdiff1d(codes, seen, assume_unique=True)),
                     "records_with_key": int(present.sum()),
                     "records_in_oversized_blocks": int((sizes[inverse] > max_block).sum())})
        seen = np.union1d(seen, codes)
    out: dict[str, Any] = {"rules": rows, "max_block": max_block, "records": f.n,
                           "pairs": len(union), "possible_pairs": possible,
                           "reduction": 1 - len(union) / possible if possible else 0.0}
    if truth is not None:
        ti, tj = np.minimum(*truth), np.maximum(*truth)
        if source is not None:
            keep = source[ti] != source[tj]
            ti, tj = ti[keep], tj[keep]
        known = np.unique(ti.astype(np.int64) * f.n + tj)
        for row, codes in zip(rows, per_rule):
            row["recall"] = _share(np.isin(known, codes))
        out["known_pairs"] = len(known)
        out["recall"] = _share(np.isin(known, union))
        out["recall_from"] = "known pairs"
    elif model is not None and len(union):
        i, j = union // f.n, union % f.n
        linked = model.score(f, i, j).probability >= model.auto_merge
        member = np.stack([np.isin(union, codes) for codes in per_rule], axis=1)
        misses = 1.0
        for k, row in enumerate(rows):
            others = linked & np.delete(member, k, axis=1).any(axis=1)
            share = _share(member[others, k])
            row["recall"] = share
            misses *= 1 - (share or 0.0)
        out["linked_pairs"] = int(linked.sum())
        out["recall"] = 1 - misses
        out["recall_from"] = "estimated from the model's linked pairs"
    return out


def _share(hits: np.ndarray) -> float | None:
    return float(hits.mean()) if len(hits) else None
