"""Scores of record pairs for linking: probability, household conflict, evidence.

A trained model (``fs_model``) scores with its comparisons; without one, the fixed weights
(``score``). A *conflict* is a pair that the scoring takes for two people of one household
(same surname and address, clearly different first names) and that is no match by its
own score: the cohesion check (``hub.matching.clustering``) never puts both into one
cluster. The evidence of a pair is its comparison levels (and the model's version), never
its values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hub.matching import profile as prof
from hub.matching.fs_model import Model, household
from hub.matching.score import explain, score_pairs

Why = Callable[[int], dict[str, str]]


class Scores:
    """Scored pairs: probability, household conflict and evidence per pair."""

    def __init__(self) -> None:
        self.pairs: list[tuple[int, int]] = []
        self.probability = np.zeros(0)
        self.conflict = np.zeros(0, dtype=bool)
        self._why: list[tuple[int, Why]] = []  # (first pair of a call, that call's evidence)

    def add(self, pairs: list[tuple[int, int]], probability: np.ndarray,
            conflict: np.ndarray, why: Why) -> None:
        self._why.append((len(self.pairs), why))
        self.pairs += pairs
        self.probability = np.concatenate([self.probability, probability])
        self.conflict = np.concatenate([self.conflict, conflict])

    def why(self, k: int) -> dict[str, str]:
        start, fn = max((w for w in self._why if w[0] <= k), key=lambda w: w[0])
        return fn(k - start)


class Scorer:
    """Scores pairs of ``values`` (the nodes of one batch's linking). ``profiles``: those
    of the first nodes, known already."""

    def __init__(self, entity: str, values: Sequence[Mapping[str, Any]],
                 profiles: Sequence[prof.Profile], *, model: Model | None,
                 weights: Mapping[str, float], auto: float):
        self.entity, self.values, self.model = entity, values, model
        self.weights, self.auto = weights, auto
        self._known = list(profiles)
        self._frame: Any = None  # the model's frame of every node, built once
        self._profiles: list[prof.Profile] | None = None

    def score(self, pairs: list[tuple[int, int]], into: Scores) -> None:
        if not pairs:
            return
        left = np.array([a for a, _ in pairs], dtype=np.int64)
        right = np.array([b for _, b in pairs], dtype=np.int64)
        if self.model is not None:
            into.add(pairs, *self._by_model(self.model, left, right))
            return
        if self._profiles is None:
            self._profiles = self._known + [prof.profile(self.entity, v)
                                            for v in self.values[len(self._known):]]
        profiles = self._profiles
        p, evidence = score_pairs([profiles[a] for a in left], [profiles[b] for b in right],
                                  self.weights)
        # like the model's household guard: such a pair is a conflict only when it is no
        # match by itself (a typo in one person's first name is no sibling)
        into.add(pairs, p, _household(evidence, len(pairs)) & (p < self.auto),
                 lambda k: explain(evidence, k))

    def _by_model(self, model: Model, left: np.ndarray, right: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, Why]:
        if self._frame is None:
            self._frame = model.frame(list(self.values), self.entity)
        s = model.score(self._frame, left, right)
        conflict = household(s.g, model.comparisons) if model.household_guard else \
            np.zeros(len(left), dtype=bool)
        version = model.version  # a hash of the whole model: once, not per pair

        def why(k: int) -> dict[str, str]:
            return {"model": version, **{c: level for c, level, _ in
                                        model.explain(s.g[k], s.adjust[k])[1:]
                                        if level != "null"}}
        return s.probability, conflict, why


def _household(evidence: Mapping[str, tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    """Fixed scoring's household pairs: one surname, one address, other first names."""
    if not evidence:
        return np.zeros(n, dtype=bool)
    has_last, last = evidence["last"]
    has_first, first = evidence["first"]
    has_address, address = evidence["address"]
    swapped, _ = evidence["swapped"]
    return np.asarray(has_last & (last == 0) & has_first & (first == 4) & has_address &
                      (address <= 1) & ~swapped, dtype=bool)
