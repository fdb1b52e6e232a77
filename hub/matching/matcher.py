"""Match a batch of inbound records to golden records: xref, rules, then linking.

1. **xref**: this system sent this record before -> *linked*.
2. **rules** (per entity, in order: same tax id, same normalised email, ...): the first
   rule whose key an existing golden record (its values, or any of its source records)
   holds decides -> *unlinked* (a new xref). Two rules pointing at two different golden
   records -> *disputed*.
3. **linking** (``hub.matching.linking``): every new or changed record is scored against
   every record it shares a blocking key with: in the batch, and every *source record* of
   the store (the values each system last sent, not only the values a golden record
   kept). Links at or above ``auto_merge`` join clusters, strongest first, unless the
   cohesion check refuses (``hub.matching.clustering``): so the clusters do not depend
   on batch size or arrival order. A record in a cluster with a golden record ->
   *unlinked*; a cluster holding two golden records merges them (``extra["merge"]``).
   Between ``review`` and ``auto_merge`` -> *disputed* (reaction ``on_disputed``). With a
   trained model (``kontor matching train``) its match probability, blocking rules and
   thresholds decide instead of the fixed scoring.
4. Everything else is *unmatched*: a new golden record (reaction ``on_unmatched``).
   Records of one cluster share one new golden record.

Every store look-up is one set-based query per chunk of the batch, never per record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from hub.matching import key_texts
from hub.matching import profile as prof
from hub.matching.clustering import id_order
from hub.matching.fs_model import Model
from hub.matching.linking import Linking
from hub.matching.settings import EntityMatching
from hub.records import Incoming, jsonable
from hub.store import matching_store as ms

__all__ = ["Matcher", "id_order"]


class Matcher:
    """Matching for one entity, as configured; ``keys_of`` gives what to store per golden.

    ``compare_fields``: the fields a source record's stored values hold (the unrestricted
    ones, ``xref.data``); records are compared on these only, in a batch and in the store
    alike, so a pair scores the same whenever it meets.
    """

    def __init__(self, entity: str, settings: EntityMatching, rules: list[list[str]],
                 digest: ms.KeyDigest, model: Model | None = None,
                 compare_fields: Sequence[str] | None = None):
        self.entity = entity
        self.model = model  # trained Fellegi-Sunter model: its scores replace score_pairs
        self.settings = settings
        self.rules = rules
        self.digest = digest
        self.fuzzy = settings.fuzzy
        self.weights: dict[str, float] = {str(k): v for k, v in self.fuzzy.weights.items()}
        self.compare_fields = tuple(compare_fields) if compare_fields is not None else \
            tuple(dict.fromkeys([*prof.FIELDS, *(model.fields if model else ())]))

    # -- keys ----------------------------------------------------------------------------

    def rule_digests(self, values: Mapping[str, Any]) -> list[str | None]:
        return [self.digest(t) if t else None for t in prof.rule_texts(values, self.rules)]

    def block_digests(self, p: prof.Profile) -> list[str]:
        return [self.digest(t) for t in prof.blocking_texts(p, list(self.fuzzy.blocking))]

    def keys_of(self, values: Mapping[str, Any], rules: Sequence[str | None] | None = None,
                profile: prof.Profile | None = None) -> set[str]:
        """Every key a golden record with ``values`` is found by (rules and blocking);
        ``rules``, ``profile``: its rule digests and profile, where known already."""
        keys = {d for d in (self.rule_digests(values) if rules is None else rules) if d}
        if self.fuzzy.enabled:
            keys.update(self.block_digests(profile or prof.profile(self.entity, values)))
        return keys

    def comparable(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` as a source record's are stored: compare fields, JSON types."""
        return jsonable({f: values[f] for f in self.compare_fields
                         if values.get(f) is not None})

    def source_digests(self, values: Sequence[Mapping[str, Any]],
                       keys: Sequence[set[str]]) -> list[set[str]]:
        """Per record, the keys its source record is found by, once per version of the
        record, from all its values (restricted ones too: only digests are stored). The
        fixed scoring: its golden-level ``keys`` (rule and blocking keys); a trained
        model: its rule keys and the model's blocking keys."""
        if self.model is None or not self.fuzzy.enabled:
            return [set(k) for k in keys]
        out = [{d for d in self.rule_digests(v) if d} for v in values]
        frame = self.model.frame(list(values), self.entity)
        for found, texts in zip(out, key_texts.texts(frame, self.model.blocking)):
            found.update(self.digest("fs|" + t) for t in texts)
        return out

    # -- matching ------------------------------------------------------------------------

    def match(self, conn: Connection, system: str, items: list[Incoming]) -> int:
        """Set ``golden_id`` (or ``extra["group"]``) and ``extra["situation"]`` on each item.

        Returns how many new golden records the batch needs; items sharing a group share
        one. ``extra["review"]`` lists (other golden id or group, score, evidence) pairs
        for the steward's queue; ``extra["merge"]`` (merged golden id, score, evidence)
        golden records this item's golden record absorbs; ``extra["source_keys"]`` the
        keys to store with the item's source record (``save_source_keys``).
        """
        state = ms.fetch_xref_state(conn, system, self.entity, [i.source_key for i in items])
        unlinked: list[Incoming] = []
        changed: list[Incoming] = []
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
            if item.previous_hash != item.source_hash:
                changed.append(item)  # new values: new evidence, maybe of another golden
        return self._link(conn, system, items, unlinked, changed)

    def relink(self, conn: Connection, system: str, items: list[Incoming]) -> None:
        """Match stored source records of ``system`` again, as if their values had just
        changed: each meets every source record sharing a key with it, so golden records
        that new evidence (a model just trained, say) links merge (``extra["merge"]``)
        and doubtful pairs go to review (``extra["review"]``). ``items``: linked, with
        ``golden_id`` set and ``values`` as stored (``xref.data``)."""
        for item in items:
            item.linked = True
        self._link(conn, system, items, [], items)

    def _link(self, conn: Connection, system: str, items: list[Incoming],
              unlinked: list[Incoming], changed: list[Incoming]) -> int:
        active = unlinked + changed
        if not active:
            return 0
        for item in active:
            item.extra["compare"] = self.comparable(item.values)
            # the profile reads unrestricted fields only: the same from values or stored
            item.extra["profile"] = prof.profile(self.entity, item.values)
            rules = self.rule_digests(item.values)
            item.extra["rule_keys"] = [(n, d) for n, d in enumerate(rules) if d]
            item.extra["keys"] = self.keys_of(item.values, rules, item.extra["profile"])
        for item, keys in zip(active, self.source_digests(
                [i.values for i in active], [i.extra["keys"] for i in active])):
            item.extra["source_keys"] = keys
        linking = Linking(conn, system, unlinked, changed, entity=self.entity,
                          settings=self.settings, model=self.model, weights=self.weights,
                          compare_fields=self.compare_fields, rules=len(self.rules))
        new_count = linking.run()
        merged = linking.merged
        if merged:  # records of this batch still pointing at a record merged away
            for item in items:
                if item.golden_id in merged:
                    item.golden_id = merged[item.golden_id]
        for item in active:
            item.extra.pop("compare", None)
            item.extra.pop("profile", None)
        return new_count

    def save_source_keys(self, conn: Connection, system: str, items: Sequence[Incoming]
                         ) -> None:
        """Store the keys of the items' source records (after their xrefs are written)."""
        wanted = {i.source_key: i.extra["source_keys"] for i in items
                  if "source_keys" in i.extra}
        if not wanted:
            return
        ids = ms.xref_ids(conn, system, self.entity, sorted(wanted))
        ms.replace_source_keys(conn, self.entity,
                               {ids[k]: keys for k, keys in wanted.items() if k in ids})

