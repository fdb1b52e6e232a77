"""Match a batch of inbound records to golden records: xref, rules, then fuzzy scoring.

1. **xref**: this system sent this record before -> *linked*.
2. **rules** (per entity, in order: same tax id, same normalised email, ...): the first
   rule whose key an existing golden record holds decides -> *unlinked* (a new xref).
   Two rules pointing at two different golden records -> *disputed*.
3. **fuzzy**: records no rule matched are scored against candidates that share a blocking
   key (name prefix + birth date, name prefix + postal code, phone suffix, ...), in the
   store and inside the batch. At or above ``auto_merge`` -> *unlinked*; between
   ``review`` and ``auto_merge`` -> *disputed* (reaction ``on_disputed``); below -> new.
   With a trained model (``kontor matching train``, ``hub/matching/fs_model.py``) its
   match probability and its thresholds decide instead of the fixed scoring.
4. Everything else is *unmatched*: a new golden record (reaction ``on_unmatched``).
   Records of one batch that match each other share one new golden record.

Every store look-up is one set-based query per chunk of the batch, never per record.
"""

from __future__ import annotations

import bisect
import heapq
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np
from sqlalchemy import Connection

from hub.matching import fs_compare as fc
from hub.matching import profile as prof
from hub.matching.fs_model import Model
from hub.matching.score import explain, score_pairs
from hub.matching.settings import EntityMatching
from hub.records import Incoming
from hub.store import matching_store as ms

PROFILE_CACHE = 50_000  # golden profiles kept across batches (~0.7 KiB each: ~35 MiB)


class _Groups:
    """Union-find over the batch's unmatched records."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


class Matcher:
    """Matching for one entity, as configured; ``keys_of`` gives what to store per golden."""

    def __init__(self, entity: str, settings: EntityMatching, rules: list[list[str]],
                 digest: ms.KeyDigest, model: Model | None = None):
        self.entity = entity
        self.model = model  # trained Fellegi-Sunter model: its scores replace score_pairs
        self.settings = settings
        self.rules = rules
        self.digest = digest
        self.fuzzy = settings.fuzzy
        self.weights: dict[str, float] = {str(k): v for k, v in self.fuzzy.weights.items()}
        self._profiles: dict[str, tuple[int, prof.Profile]] = {}

    # -- keys ----------------------------------------------------------------------------

    def rule_digests(self, values: Mapping[str, Any]) -> list[str | None]:
        return [self.digest(t) if t else None for t in prof.rule_texts(values, self.rules)]

    def block_digests(self, p: prof.Profile) -> list[str]:
        return [self.digest(t) for t in prof.blocking_texts(p, list(self.fuzzy.blocking))]

    def keys_of(self, values: Mapping[str, Any]) -> set[str]:
        """Every key a golden record with ``values`` is found by (rules and blocking)."""
        keys = {d for d in self.rule_digests(values) if d}
        if self.fuzzy.enabled:
            keys.update(self.block_digests(prof.profile(self.entity, values)))
        return keys

    # -- matching ------------------------------------------------------------------------

    def match(self, conn: Connection, system: str, items: list[Incoming]) -> int:
        """Set ``golden_id`` (or ``extra["group"]``) and ``extra["situation"]`` on each item.

        Returns how many new golden records the batch needs; items sharing a group share
        one. ``extra["review"]`` lists (other golden id or group, score, evidence) pairs
        for the steward's queue.
        """
        state = ms.fetch_xref_state(conn, system, self.entity, [i.source_key for i in items])
        unlinked: list[Incoming] = []
        for item in items:
            hit = state.get(item.source_key)
            if hit is None:
                unlinked.append(item)
                continue
            item.golden_id, item.previous_hash, deleted = hit
            item.linked = True
            item.extra["situation"] = "linked"
            if deleted:  # reappeared after a delete: store it again, revive the xref
                item.previous_hash = None
        if not unlinked:
            return 0
        self._by_rules(conn, unlinked)
        open_items = [i for i in unlinked if i.golden_id is None]
        groups = _Groups(len(open_items))
        self._group_by_rules(open_items, groups)
        if self.fuzzy.enabled and open_items:
            self._by_score(conn, open_items, groups)
        return self._assign_groups(open_items, groups)

    def _by_rules(self, conn: Connection, items: list[Incoming]) -> None:
        digests = [self.rule_digests(i.values) for i in items]
        for item, ds in zip(items, digests):
            item.extra["rule_keys"] = [d for d in ds if d]
            item.extra["keys"] = set(item.extra["rule_keys"])
        found = ms.lookup_keys(conn, self.entity, [d for ds in digests for d in ds if d])
        for item, ds in zip(items, digests):
            owners = [min(found[d], key=id_order) for d in ds if d and d in found]
            if not owners:
                continue
            item.golden_id = owners[0]
            item.extra["situation"] = "unlinked"
            others = sorted(set(owners) - {owners[0]})
            if others:  # e.g. the email says one person, the tax id another
                item.extra["situation"] = "disputed"
                item.extra["review"] = [(g, 1.0, {"rules": "conflict"}) for g in others]

    def _group_by_rules(self, items: list[Incoming], groups: _Groups) -> None:
        first: dict[str, int] = {}
        for n, item in enumerate(items):
            for d in item.extra["rule_keys"]:
                if d:
                    if d in first:
                        groups.union(first[d], n)
                    else:
                        first[d] = n

    def _golden_profiles(self, conn: Connection, ids: list[str]) -> dict[str, prof.Profile]:
        """Profiles of the candidate golden records (retired ones left out). One read for
        all; a record whose version is cached from an earlier batch is not folded again."""
        rows = ms.fetch_columns(conn, self.entity, ids, ["version", *prof.FIELDS])
        if len(self._profiles) + len(rows) > PROFILE_CACHE:
            self._profiles.clear()
        found: dict[str, prof.Profile] = {}
        for g, r in rows.items():
            cached = self._profiles.get(g)
            if cached is None or cached[0] != r["version"]:
                cached = (r["version"], prof.profile(self.entity, r))
                self._profiles[g] = cached
            found[g] = cached[1]
        for g in ms.retired_ids(conn, self.entity, list(rows)):
            found.pop(g, None)
        return found

    def _ranked(self, digests: list[str], owners: Mapping[str, list[Any]],
                below: int | None = None) -> list[Any]:
        """Candidates sharing a key, the rarest shared keys first (an IDF-like weight).

        ``below``: in-batch candidates (ascending positions), only those earlier in the
        batch, so each pair is scored once. Ties keep the order they were found in.
        """
        weight: dict[Any, float] = {}
        cap = self.fuzzy.max_block
        for d in digests:
            holders = owners.get(d)
            if not holders or len(holders) > cap:
                continue
            share = 1.0 / len(holders)
            if below is not None:
                holders = holders[:bisect.bisect_left(holders, below)]
            for h in holders:
                weight[h] = weight.get(h, 0.0) + share
        if len(weight) <= self.fuzzy.max_candidates:
            return list(weight)
        return heapq.nlargest(self.fuzzy.max_candidates, weight, key=weight.__getitem__)

    def _by_score(self, conn: Connection, items: list[Incoming], groups: _Groups) -> None:
        profiles = [prof.profile(self.entity, i.values) for i in items]
        blocks = [self.block_digests(p) for p in profiles]
        for item, ds in zip(items, blocks):
            item.extra["keys"] = item.extra.get("keys", set()) | set(ds)
        found = ms.lookup_keys(conn, self.entity, [d for ds in blocks for d in ds])
        in_batch: dict[str, list[int]] = defaultdict(list)
        for n, ds in enumerate(blocks):
            for d in ds:
                in_batch[d].append(n)
        stored = [self._ranked(ds, found) for ds in blocks]
        peers = [self._ranked(ds, in_batch, n) for n, ds in enumerate(blocks)]
        ids = sorted({g for c in stored for g in c})
        golden: Mapping[str, Any] = self._golden_profiles(conn, ids) if self.model is None \
            else self._golden_rows(conn, ids)
        pairs = [(n, g) for n, c in enumerate(stored) for g in c if g in golden] + \
            [(n, m) for n, c in enumerate(peers) for m in c]
        if self.model is not None:
            probability, why = self._model_scores(items, golden, pairs)
            auto, review = self.model.auto_merge, self.model.review
        else:
            left = [profiles[n] for n, _ in pairs]
            right = [golden[o] if isinstance(o, str) else profiles[o] for _, o in pairs]
            probability, evidence = score_pairs(left, right, self.weights)
            auto, review = self.fuzzy.auto_merge, self.fuzzy.review

            def why(k: int) -> dict[str, str]:
                return explain(evidence, k)
        best: dict[int, tuple[float, str, int]] = {}
        for hit in np.flatnonzero(probability >= review):
            k = int(hit)
            n, other = pairs[k]
            s = float(probability[k])
            if isinstance(other, str):
                if n not in best or (s, other) > best[n][:2]:
                    best[n] = (s, other, k)
            elif s >= auto:
                groups.union(other, n)
            elif self.settings.on_disputed == "review":
                items[n].extra["situation"] = "disputed"
                items[n].extra.setdefault("review", []).append((("group", other), s, why(k)))
        for n, (s, g, k) in best.items():
            item = items[n]
            if s >= auto or self.settings.on_disputed == "link":
                item.golden_id = g
                item.extra["situation"] = "unlinked"
                item.extra["matched_by"] = {"score": round(s, 4), **why(k)}
            else:
                item.extra["situation"] = "disputed"
                if self.settings.on_disputed == "review":
                    item.extra.setdefault("review", []).append((g, s, why(k)))

    def _golden_rows(self, conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The candidate golden records' values (retired ones left out), for the model."""
        rows = ms.fetch_columns(conn, self.entity, ids, list(prof.FIELDS))
        for g in ms.retired_ids(conn, self.entity, list(rows)):
            rows.pop(g, None)
        return rows

    def _model_scores(self, items: list[Incoming], golden: Mapping[str, Any],
                      pairs: list[tuple[int, Any]]) -> tuple[np.ndarray, Any]:
        """The model's match probability per pair, and its levels per pair for review."""
        assert self.model is not None
        model = self.model
        position = {g: len(items) + n for n, g in enumerate(golden)}
        frame = fc.Frame([i.values for i in items] + list(golden.values()), self.entity)
        left = np.array([n for n, _ in pairs], dtype=np.int64)
        right = np.array([position[o] if isinstance(o, str) else o for _, o in pairs],
                         dtype=np.int64)
        g = fc.gammas(frame, left, right)
        version = model.version  # a hash of the whole model: once, not per pair

        def why(k: int) -> dict[str, str]:
            return {"model": version, **{c: level for c, level, _ in
                                                model.explain(g[k])[1:] if level != "null"}}
        return model.probability(g), why

    @staticmethod
    def _assign_groups(items: list[Incoming], groups: _Groups) -> int:
        """Give each group of still-open records one new-golden placeholder."""
        golden_of_root: dict[int, str] = {}
        for n, item in enumerate(items):
            if item.golden_id is not None:
                golden_of_root.setdefault(groups.find(n), item.golden_id)
        placeholder: dict[int, int] = {}
        for n, item in enumerate(items):
            root = groups.find(n)
            if item.golden_id is None and root in golden_of_root:
                item.golden_id = golden_of_root[root]  # matched a record that matched
                item.extra.setdefault("situation", "unlinked")
                continue
            if item.golden_id is not None:
                continue
            item.extra.setdefault("situation", "unmatched")
            item.extra["group"] = placeholder.setdefault(root, len(placeholder))
        for item in items:  # in-batch review partners: by their placeholder
            item.extra["review"] = [
                (("group", items[o[1]].extra.get("group")) if items[o[1]].golden_id is None
                 else items[o[1]].golden_id, s, e) if isinstance(o, tuple) else (o, s, e)
                for o, s, e in item.extra.get("review", [])]
        return len(placeholder)


def id_order(golden_id: str) -> tuple[int, str]:
    """C-9 before C-10: the oldest golden record first."""
    prefix, _, number = golden_id.partition("-")
    return (int(number), prefix) if number.isdigit() else (0, golden_id)
