"""Join records into clusters, the surest links first, refusing joins that chain.

Nodes are records (a batch's and the stored source records they meet) and one anchor per
existing golden record. Links are taken in one order that depends on the records only:
deterministic rules first (the first rule first), then scores at or above the auto-merge
threshold, the strongest first, ties by the two records' identities (system and source
key). Without a refusal that is plain connected components: any batch size and arrival
order gives the same clusters.

A join is refused (``Refusal``) when the two sides

- hold two records that the scoring takes for two people of one household (same surname
  and address, clearly different first names): a record that matches both is a link in a
  chain, not proof that they are one person (the cohesion check; rules too must pass it);
- hold two golden records a data steward kept apart;
- hold two golden records and the link is a rule's: rules that disagree are a question
  for the steward (a score that links two golden records merges them).

A refused join goes to the steward's review queue instead (kept apart: decided already).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Link:
    score: float
    a: int
    b: int
    pair: int = -1  # index of the scored pair, for its evidence (-1: a rule's link)
    rank: int = 0  # rules: above 0, the first rule highest; scores: 0

    @property
    def by_rule(self) -> bool:
        return self.rank > 0


@dataclass
class Refusal:
    link: Link
    reason: str  # "household" | "kept_apart" | "rules"


@dataclass
class Joined:
    """What ``join`` did: the links that joined two clusters (in order), those refused,
    and the bridges: joins of two clusters that both held golden records (a merge)."""

    links: list[Link] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    bridges: list[tuple[Link, set[str], set[str]]] = field(default_factory=list)


@dataclass
class Clusters:
    """Union-find over ``n`` nodes that keeps each cluster's members and golden anchors
    (``members``: clusters of more than one node only)."""

    n: int
    anchors: Mapping[int, str] = field(default_factory=dict)  # node -> golden id
    parent: list[int] = field(init=False)
    members: dict[int, list[int]] = field(init=False)
    goldens: dict[int, set[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.parent = list(range(self.n))
        self.members = {}
        self.goldens = {i: {g} for i, g in self.anchors.items()}

    def copy(self) -> Clusters:
        other = Clusters(0)
        other.n, other.parent = self.n, list(self.parent)
        other.members = {r: list(m) for r, m in self.members.items()}
        other.goldens = {r: set(g) for r, g in self.goldens.items()}
        return other

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def members_of(self, i: int) -> list[int]:
        root = self.find(i)
        return self.members.get(root, [root])

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        keep, gone = min(ra, rb), max(ra, rb)
        self.parent[gone] = keep
        self.members[keep] = self.members.pop(keep, [keep]) + self.members.pop(gone, [gone])
        self.goldens.setdefault(keep, set()).update(self.goldens.pop(gone, set()))
        return keep

    def golden_ids(self, i: int) -> set[str]:
        return self.goldens.get(self.find(i), set())


def refusal(clusters: Clusters, link: Link, conflicts: Mapping[int, set[int]],
            apart: set[tuple[str, str]]) -> str | None:
    """Why the clusters of ``link``'s two ends must not be joined (None: they may)."""
    ra, rb = clusters.find(link.a), clusters.find(link.b)
    small, large = sorted((clusters.members_of(ra), clusters.members_of(rb)), key=len)
    other = set(large)
    if any(conflicts.get(x, set()) & other for x in small):
        return "household"
    ga, gb = clusters.golden_ids(ra), clusters.golden_ids(rb)
    if any((min(x, y), max(x, y)) in apart for x in ga for y in gb):
        return "kept_apart"
    if link.by_rule and ga and gb:
        return "rules"
    return None


def join(clusters: Clusters, links: Iterable[Link], identity: Sequence[str],
         conflicts: Mapping[int, set[int]], apart: set[tuple[str, str]]) -> Joined:
    """Take ``links`` surest first, joining clusters unless refused."""
    def order(link: Link) -> tuple[int, float, str, str]:
        x, y = sorted((identity[link.a], identity[link.b]))
        return (-link.rank, -link.score, x, y)

    done = Joined()
    for link in sorted(links, key=order):
        if clusters.find(link.a) == clusters.find(link.b):
            continue
        why = refusal(clusters, link, conflicts, apart)
        if why is not None:
            done.refused.append(Refusal(link, why))
            continue
        ga, gb = set(clusters.golden_ids(link.a)), set(clusters.golden_ids(link.b))
        if ga and gb:
            done.bridges.append((link, ga, gb))
        clusters.union(link.a, link.b)
        done.links.append(link)
    return done


def id_order(golden_id: str) -> tuple[int, str]:
    """C-9 before C-10: the oldest golden record first."""
    prefix, _, number = golden_id.partition("-")
    return (int(number), prefix) if number.isdigit() else (0, golden_id)
