"""Joining clusters: the surest links first, whatever order they come in; chains refused."""

from __future__ import annotations

import random

from hub.matching import clustering as cl

# nodes 0-4: records; 5, 6: anchors of golden records C-1 and C-2
IDENTITY = ["a", "b", "c", "d", "e", "anchor C-1", "anchor C-2"]
ANCHORS = {5: "C-1", 6: "C-2"}


def _clusters() -> cl.Clusters:
    clusters = cl.Clusters(len(IDENTITY), ANCHORS)
    clusters.union(0, 5)  # a is C-1's source record
    clusters.union(1, 6)  # b is C-2's
    return clusters


def _partition(clusters: cl.Clusters) -> set[frozenset[int]]:
    return {frozenset(clusters.members_of(n)) for n in range(clusters.n)}


def test_any_order_of_the_same_links_gives_the_same_clusters() -> None:
    links = [cl.Link(0.99, 2, 0, 1), cl.Link(0.98, 2, 1, 2), cl.Link(0.99, 3, 4, 3),
             cl.Link(1.0, 4, 2, rank=1)]
    conflicts = {0: {1}, 1: {0}}  # a and b: two people of one household
    seen = set()
    for seed in range(8):
        random.Random(seed).shuffle(links)
        clusters = _clusters()
        done = cl.join(clusters, links, IDENTITY, conflicts, set())
        seen.add(frozenset(_partition(clusters)))
        assert [(r.link.pair, r.reason) for r in done.refused] == [(2, "household")]
    assert seen == {frozenset({frozenset({0, 2, 3, 4, 5}), frozenset({1, 6})})}


def test_a_score_merges_two_golden_records_a_rule_or_a_steward_does_not() -> None:
    clusters = _clusters()
    done = cl.join(clusters, [cl.Link(0.99, 2, 0, 0), cl.Link(0.98, 2, 1, 1)], IDENTITY,
                   {}, set())
    assert clusters.golden_ids(2) == {"C-1", "C-2"}
    [(link, left, right)] = done.bridges
    assert link.pair == 1 and (left, right) == ({"C-1"}, {"C-2"})

    clusters = _clusters()
    done = cl.join(clusters, [cl.Link(1.0, 2, 0, rank=2), cl.Link(1.0, 2, 1, rank=1)],
                   IDENTITY, {}, set())
    assert [r.reason for r in done.refused] == ["rules"] and not done.bridges
    assert clusters.golden_ids(2) == {"C-1"}  # the first rule decides

    clusters = _clusters()
    done = cl.join(clusters, [cl.Link(0.99, 2, 0, 0), cl.Link(0.98, 2, 1, 1)], IDENTITY,
                   {}, {("C-1", "C-2")})
    assert [r.reason for r in done.refused] == ["kept_apart"]


def test_golden_ids_sort_by_number() -> None:
    assert sorted(["C-10", "C-9", "C-100"], key=cl.id_order) == ["C-9", "C-10", "C-100"]
