"""One batch's linking: records, the source records they meet, links, clusters, outcome.

The nodes are the batch's new and changed records, every live source record of each
candidate golden record (its values as its system last sent them, ``xref.data``), a
golden record's own values where it has no source record with stored keys (written
through the API, or stored before source keys existed), and one anchor per golden record.

Links: a record sharing a rule key (same tax id, same e-mail) with another record or a
golden record; and a scored pair at or above ``auto_merge``. A pair is scored when its two
records share a key (a blocking or rule key; keys held by more than ``max_block`` records
left out), and only then: which pairs are scored does not depend on which golden record a
stored record belongs to, nor on which values survived. Every pair across two clusters
that links could join is scored too, for the cohesion check (``hub.matching.clustering``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from itertools import combinations
from typing import Any

from sqlalchemy import Connection

from hub.matching import clustering as cl
from hub.matching.fs_model import Model
from hub.matching.pair_scores import Scorer, Scores
from hub.matching.settings import EntityMatching
from hub.records import Incoming, jsonable
from hub.store import matching_store as ms

_NOBODY: frozenset[str] = frozenset()

#: Past this many records in reach of one another, only their scored pairs are checked
#: for cohesion (every pair would be ~20,000 comparisons at 200).
COHESION_LIMIT = 200


class Linking:
    """Links one batch; ``run`` sets the items' outcome, ``merged`` maps each golden
    record merged away to the one it merges into."""

    def __init__(self, conn: Connection, system: str, unlinked: list[Incoming],
                 changed: list[Incoming], *, entity: str, settings: EntityMatching,
                 model: Model | None, weights: Mapping[str, float],
                 compare_fields: Sequence[str], rules: int):
        self.conn, self.system, self.entity = conn, system, entity
        self.unlinked, self.changed = unlinked, changed
        self.active = unlinked + changed
        self.settings, self.model, self.weights = settings, model, weights
        self.compare_fields = compare_fields
        self.rule_count = rules
        fuzzy = settings.fuzzy
        self.fuzzy = fuzzy.enabled
        self.auto = model.auto_merge if model is not None else fuzzy.auto_merge
        self.review = model.review if model is not None else fuzzy.review
        self.cap = model.max_block if model is not None else fuzzy.max_block
        self.merged: dict[str, str] = {}
        # nodes: the batch's records first, then stored records, then golden anchors
        self.values: list[Mapping[str, Any]] = [i.extra["compare"] for i in self.active]
        self.identity: list[str] = [f"{system}\x1f{i.source_key}" for i in self.active]
        self.golden_of: dict[int, str] = {}  # stored node -> its golden record
        self.anchor: dict[str, int] = {}
        self.scores = Scores()
        self._scorer: Scorer | None = None  # built once every node is known

    def run(self) -> int:
        self._look_up()
        self._nodes()
        clusters = cl.Clusters(len(self.identity), {n: g for g, n in self.anchor.items()})
        for n, gid in self.golden_of.items():
            clusters.union(n, self.anchor[gid])
        for n, item in enumerate(self.active):
            if item.linked and item.golden_id in self.anchor:
                clusters.union(n, self.anchor[item.golden_id])
        links = self._rule_links()
        if self.fuzzy:
            self._score(self._candidates(clusters))
            links += [cl.Link(float(p), a, b, k) for k, ((a, b), p) in
                      enumerate(zip(self.scores.pairs, self.scores.probability))
                      if p >= self.auto]
        reach = self._reach(clusters, links)
        conflicts = self._cohesion(clusters, reach) if self.fuzzy else {}
        joined = cl.join(clusters, links, self.identity, conflicts, self._apart(reach))
        if self.fuzzy and self.settings.on_disputed == "link":
            self._link_disputed(clusters, conflicts)
        return self._outcome(clusters, joined)

    # -- what the batch meets ------------------------------------------------------------------

    def _look_up(self) -> None:
        conn, entity = self.conn, self.entity
        digests = {d for i in self.active for d in i.extra["source_keys"]}
        self.own = set(ms.xref_ids(conn, self.system, entity,
                                   [i.source_key for i in self.changed]).values())
        found = ms.lookup_source_keys(conn, entity, digests)
        # the changed records' own stored versions: they are here with their new values
        self.sources = {d: [h for h in hits if h[0] not in self.own]
                        for d, hits in found.items()}
        self.golden_keys = ms.lookup_keys(conn, entity,
                                          {d for i in self.active for d in i.extra["keys"]})
        batch: dict[str, int] = defaultdict(int)
        for item in self.active:
            for d in item.extra["source_keys"]:
                batch[d] += 1
        self.common = {d for d, n in batch.items() if n + len(self.sources.get(d, ())) > self.cap}

    def _holders(self, digest: str) -> AbstractSet[str]:
        """Golden records holding a rule key: in their values or one of their sources."""
        held, sourced = self.golden_keys.get(digest), self.sources.get(digest)
        if not held and not sourced:
            return _NOBODY  # most keys of a batch: nobody holds them yet
        return set(held or ()) | {g for _, g in sourced or ()}

    def _nodes(self) -> None:
        """Stored source records of the candidate golden records, and their anchors."""
        fuzzy_goldens: set[str] = set()
        if self.fuzzy:
            for d, hits in self.sources.items():
                if d not in self.common:
                    fuzzy_goldens.update(g for _, g in hits)
            for ids in self.golden_keys.values():
                if len(ids) <= self.cap:
                    fuzzy_goldens.update(ids)
            fuzzy_goldens -= ms.retired_ids(self.conn, self.entity, sorted(fuzzy_goldens))
        wanted = fuzzy_goldens | {i.golden_id for i in self.changed if i.golden_id} | \
            {g for i in self.active for _, d in i.extra["rule_keys"] for g in self._holders(d)}
        self.xref_node: dict[int, int] = {}
        keyed: set[str] = set()
        for s in ms.sources_of(self.conn, self.entity, sorted(wanted)):
            if s.xref_id in self.own:
                continue
            self.xref_node[s.xref_id] = self._node(s.data, f"{s.system}\x1f{s.source_key}",
                                                   s.golden_id)
            if s.keyed:
                keyed.add(s.golden_id)
        self.own_values: dict[str, int] = {}
        bare = sorted(fuzzy_goldens - keyed)
        if bare:  # no source record with keys: the golden record's own values stand in
            columns = [*self.compare_fields, "custom"]
            for gid, row in ms.fetch_columns(self.conn, self.entity, bare, columns).items():
                custom = row.get("custom") or {}
                values = {f: row[f] if f in row else custom.get(f) for f in self.compare_fields}
                self.own_values[gid] = self._node(
                    jsonable({f: v for f, v in values.items() if v is not None}),
                    f"\x1egolden\x1f{gid}", gid)
        self.real = len(self.values)
        for gid in sorted(wanted):
            self.anchor[gid] = len(self.identity)
            self.identity.append(f"\x1eanchor\x1f{gid}")
        self.golden_anchor = {n: g for g, n in self.anchor.items()}

    def _node(self, values: Mapping[str, Any], identity: str, golden_id: str) -> int:
        n = len(self.values)
        self.values.append(values)
        self.identity.append(identity)
        self.golden_of[n] = golden_id
        return n

    # -- links ------------------------------------------------------------------------------

    def _rule_links(self) -> list[cl.Link]:
        """A rule key shared with a golden record (its values or a source record), or
        with another record of the batch: the first rule ranks highest."""
        links: list[cl.Link] = []
        batch: dict[tuple[int, str], list[int]] = defaultdict(list)
        for n, item in enumerate(self.active):
            for rule, d in item.extra["rule_keys"]:
                rank = self.rule_count - rule
                batch[(rank, d)].append(n)
                holders = self._holders(d)
                if holders:
                    links += [cl.Link(1.0, n, self.anchor[g], rank=rank)
                              for g in sorted(holders, key=cl.id_order)]
        for (rank, _), here in batch.items():
            if len(here) < 2:
                continue  # a key no other record of the batch has: no link
            first = min(here, key=self.identity.__getitem__)
            links += [cl.Link(1.0, first, n, rank=rank) for n in here if n != first]
        return links

    def _candidates(self, clusters: cl.Clusters) -> list[tuple[int, int]]:
        """Pairs sharing a key, not yet in one cluster, each once, in identity order."""
        pairs: set[tuple[int, int]] = set()

        def add(a: int, b: int) -> None:
            if clusters.find(a) != clusters.find(b):
                pairs.add((a, b) if self.identity[a] < self.identity[b] else (b, a))

        batch: dict[str, list[int]] = defaultdict(list)
        for n, item in enumerate(self.active):
            for d in item.extra["source_keys"]:
                if d not in self.common:
                    batch[d].append(n)
        for d, here in batch.items():
            stored = [self.xref_node[x] for x, _ in self.sources.get(d, ())
                      if x in self.xref_node]
            for a, b in combinations(here, 2):
                add(a, b)
            for a in here:
                for s in stored:
                    add(a, s)
        if self.own_values:
            for n, item in enumerate(self.active):
                for d in item.extra["keys"]:
                    ids = self.golden_keys.get(d, ())
                    if len(ids) <= self.cap:
                        for gid in ids:
                            if gid in self.own_values:
                                add(n, self.own_values[gid])
        return sorted(pairs)

    def _score(self, pairs: list[tuple[int, int]]) -> None:
        if self._scorer is None:
            profiles = [i.extra["profile"] for i in self.active]
            self._scorer = Scorer(self.entity, self.values, profiles, model=self.model,
                                  weights=self.weights, auto=self.auto)
        self._scorer.score(pairs, self.scores)

    def why(self, link: cl.Link) -> dict[str, str]:
        """A link's evidence: the scored pair's levels, or the rule (its position)."""
        if link.pair >= 0:
            return self.scores.why(link.pair)
        return {"rules": f"rule {self.rule_count - link.rank + 1}"}

    # -- cohesion ---------------------------------------------------------------------------

    def _reach(self, clusters: cl.Clusters, links: list[cl.Link]) -> list[list[int]]:
        """The nodes each cluster could hold once every link joined (several clusters
        each): only these clusters are ever asked to join one another."""
        reach = clusters.copy()
        for link in links:
            reach.union(link.a, link.b)
        return list(reach.members.values())

    def _cohesion(self, clusters: cl.Clusters, reach: list[list[int]]
                  ) -> dict[int, set[int]]:
        """Node -> the nodes it must never share a cluster with: every pair across two
        clusters that links could join is scored first."""
        scored = set(self.scores.pairs)
        more: list[tuple[int, int]] = []
        for members in reach:
            real = sorted((n for n in members if n < self.real), key=self.identity.__getitem__)
            if len(real) > COHESION_LIMIT:
                continue
            for a, b in combinations(real, 2):
                if clusters.find(a) != clusters.find(b) and (a, b) not in scored:
                    more.append((a, b))
        self._score(more)
        ruled = self._rule_keys_of_nodes()
        conflicts: dict[int, set[int]] = defaultdict(set)
        for (a, b), bad in zip(self.scores.pairs, self.scores.conflict):
            # two records a rule says are one person (same e-mail, say) are no household
            if bad and not ruled.get(a, set()) & ruled.get(b, set()):
                conflicts[a].add(b)
                conflicts[b].add(a)
        return conflicts

    def _rule_keys_of_nodes(self) -> dict[int, set[str]]:
        """Node -> the batch's rule keys it holds (a stored record: as far as known)."""
        ruled: dict[int, set[str]] = defaultdict(set)
        for n, item in enumerate(self.active):
            for _, d in item.extra["rule_keys"]:
                ruled[n].add(d)
                for x, _ in self.sources.get(d, ()):
                    if x in self.xref_node:
                        ruled[self.xref_node[x]].add(d)
                for gid in self.golden_keys.get(d, ()):
                    if gid in self.own_values:
                        ruled[self.own_values[gid]].add(d)
        return ruled

    def _apart(self, reach: list[list[int]]) -> set[tuple[str, str]]:
        """Pairs of golden records that links could join which a steward decided to keep
        apart."""
        wanted = sorted({pair for members in reach for pair in combinations(sorted(
            self.golden_anchor[n] for n in members if n in self.golden_anchor), 2)})
        if not wanted:
            return set()
        decided = ms.decided_pairs(self.conn, self.entity, wanted)
        return {k for k, status in decided.items() if status == "kept_apart"}

    def _link_disputed(self, clusters: cl.Clusters, conflicts: Mapping[int, set[int]]) -> None:
        """``on_disputed: link``: a new record no golden record took joins its best
        candidate above ``review``."""
        best: dict[int, tuple[float, str, int, int]] = {}
        for k, ((a, b), p) in enumerate(zip(self.scores.pairs, self.scores.probability)):
            if not self.review <= p < self.auto:
                continue
            for n, other in ((a, b), (b, a)):
                if n < len(self.unlinked) and (n not in best or
                                               (p, self.identity[other]) > best[n][:2]):
                    best[n] = (float(p), self.identity[other], other, k)
        for n in sorted(best, key=self.identity.__getitem__):
            score, _, other, k = best[n]
            if clusters.golden_ids(n) or not clusters.golden_ids(other):
                continue
            link = cl.Link(score, n, other, k)
            if cl.refusal(clusters, link, conflicts, set()) is None:
                clusters.union(n, other)
                self.active[n].extra["matched_by"] = {"score": round(score, 4),
                                                      **self.scores.why(k)}

    # -- outcome ----------------------------------------------------------------------------

    def _outcome(self, clusters: cl.Clusters, joined: cl.Joined) -> int:
        placeholder: dict[int, int] = {}
        for n in range(len(self.active)):
            root = clusters.find(n)
            goldens = clusters.golden_ids(root)
            if goldens:
                survivor = min(goldens, key=cl.id_order)
                self.merged.update({g: survivor for g in goldens if g != survivor})
            else:
                placeholder.setdefault(root, len(placeholder))

        def ref(node: int) -> Any:
            goldens = clusters.golden_ids(node)
            if goldens:
                return min(goldens, key=cl.id_order)
            return ("group", placeholder[clusters.find(node)])

        self._merges(joined)
        reviews: dict[int, dict[Any, tuple[float, dict[str, str]]]] = defaultdict(dict)
        disputed: set[int] = set()
        by_rule: set[int] = set()
        best: dict[int, cl.Link] = {}
        for link in joined.links:
            for n in (link.a, link.b):
                if n < len(self.active):
                    if link.by_rule:
                        by_rule.add(n)
                    elif n not in best or link.score > best[n].score:
                        best[n] = link
        for refused in joined.refused:
            if refused.reason == "kept_apart":
                continue  # decided already
            n, other = self._sides(refused.link)
            if refused.reason == "household":
                evidence = {**self.why(refused.link), "guard": "household"}
            else:  # two golden records' rule keys: the rules disagree
                evidence = {"rules": "conflict"}
                disputed.add(n)
            _keep(reviews[n], ref(other), refused.link.score, evidence)
        for k, ((a, b), p) in enumerate(zip(self.scores.pairs, self.scores.probability)):
            if not self.review <= p < self.auto:
                continue
            for n, other in ((a, b), (b, a)):
                if n < len(self.unlinked) and not clusters.golden_ids(n) and \
                        clusters.find(n) != clusters.find(other):
                    disputed.add(n)
                    if self.settings.on_disputed == "review":
                        _keep(reviews[n], ref(other), float(p), self.scores.why(k))
        for n, item in enumerate(self.active):
            own = ref(n)
            found = reviews.get(n, {})
            if isinstance(own, str):
                item.golden_id = own
                if not item.linked:
                    item.extra["situation"] = "disputed" if n in disputed else "unlinked"
                    if n in best and n not in by_rule and "matched_by" not in item.extra:
                        link = best[n]
                        item.extra["matched_by"] = {"score": round(link.score, 4),
                                                    **self.why(link)}
            else:
                item.extra["group"] = own[1]
                item.extra["situation"] = "disputed" if n in disputed or found else \
                    "unmatched"
            item.extra["review"] = [(o, s, e) for o, (s, e) in found.items() if o != own]
        return len(placeholder)

    def _sides(self, link: cl.Link) -> tuple[int, int]:
        """(the batch record of a link, the other end): the first in identity order when
        both are of this batch."""
        a, b = link.a, link.b
        if b < len(self.active) and (a >= len(self.active) or
                                     self.identity[b] < self.identity[a]):
            return b, a
        return a, b

    def _merges(self, joined: cl.Joined) -> None:
        """Each golden record merged away, on the batch record whose link bridged it."""
        done: set[str] = set()
        for link, left, right in joined.bridges:
            n, _ = self._sides(link)
            for gid in sorted(left | right, key=cl.id_order):
                if gid in self.merged and gid not in done:
                    done.add(gid)
                    self.active[n].extra.setdefault("merge", []).append(
                        (gid, link.score, self.why(link)))


def _keep(found: dict[Any, tuple[float, dict[str, str]]], other: Any, score: float,
          evidence: dict[str, str]) -> None:
    if other not in found or score > found[other][0]:
        found[other] = (score, evidence)
