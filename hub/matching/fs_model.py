"""A Fellegi-Sunter model learned without labels: u from random pairs, m by EM, the prior.

- **u** (how often a level occurs between two different people) is counted over random
  record pairs; a true match among them is rare enough not to matter.
- **m** (how often it occurs between two records of one person) comes from EM over
  blocked pairs, one session per training blocking rule, as Splink does: a session leaves
  out the comparisons its rule's fields feed (those agree by construction there) and the
  sessions' estimates are averaged per comparison.
- **the prior** (the probability two random records are one person) is the share of
  expected matches among the blocked pairs, m and u fixed, over all possible pairs.

A pair's match weight is ``log2(prior / (1 - prior)) + sum(log2(m / u))`` over the
comparisons both records hold; its probability ``1 / (1 + 2**-weight)``. The model saves
to readable JSON with a version derived from its content: the same training data gives
the same file.

On top, **term-frequency adjustments** (``fs_tf``): an exact agreement on a common value
counts less than on a rare one. **Custom comparisons** (``fs_fields``) and **blocking
rules** (``fs_blocking``) come from the entity's ``matching.<entity>.model`` settings and
are written into the model file, which alone decides how the sync scores.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hub.errors import ConfigError, ConfigProblem
from hub.matching import fs_blocking as fb
from hub.matching import fs_compare as fc
from hub.matching import fs_fields, fs_tf

FORMAT = "kontor-fs-model/1"
#: Rules whose pairs EM learns from. Not address or phone: a household shares them, and EM
#: would take "one household" for "one person".
TRAINING_RULES = ("dob", "soundex_last_first_year", "email")
BLOCKING_RULES: tuple[fb.RuleSpec, ...] = (
    "dob_initials", "soundex_last_first_year", "name_prefixes_year", "postal_soundex_last",
    "email", "phone", ("first_name", "last_name"), ("last_name", "date_of_birth"),
    ("street", "postal_code"))
#: The level taken as "the fields agree" when EM starts (names: 0 is "swapped").
_AGREE = {"first_name": 1, "last_name": 1}


@dataclass
class Scored:
    """Scored pairs: the level matrix, the term-frequency bits per pair and comparison,
    the match weight and probability per pair."""

    g: np.ndarray
    adjust: np.ndarray
    weight: np.ndarray
    probability: np.ndarray


@dataclass
class Model:
    prior: float
    m: list[np.ndarray]
    u: list[np.ndarray]
    blocking: tuple[fb.RuleSpec, ...] = BLOCKING_RULES
    auto_merge: float = 0.95
    review: float = 0.5
    max_block: int = 200
    #: A pair of one surname and one address but clearly different first names is two
    #: people of one household far more often than one person: never above ``review``.
    #: (Independence does not hold there: family members agree on surname, address and
    #: landline together, twins on the birth date too.)
    household_guard: bool = True
    trained: dict[str, Any] = field(default_factory=dict)
    #: the built-in comparisons, then the custom ones (``fs_fields``), in the file's order
    comparisons: tuple[fc.Comparison, ...] = fc.COMPARISONS
    tf: fs_tf.TermFrequencies | None = None

    # -- scoring -------------------------------------------------------------------------

    @property
    def fields(self) -> tuple[str, ...]:
        """The custom (non built-in) fields the model reads: its frames must hold them."""
        rules = fb.rules(self.blocking)
        wanted = [c.spec["field"] for c in self.comparisons if c.spec] + \
            [f for f in fb.fields_of(rules) if f not in fb.COLUMN]
        return tuple(sorted({str(f) for f in wanted}))

    def frame(self, rows: Sequence[Mapping[str, Any]], entity: str = "customer") -> fc.Frame:
        """The records as the model compares them (with the custom fields it reads)."""
        return fc.Frame(rows, entity, self.fields)

    def gammas(self, f: fc.Frame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return fc.gammas(f, i, j, self.comparisons)

    def adjustments(self, f: fc.Frame, i: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Term-frequency bits per pair and comparison (zeros without tables)."""
        if self.tf is None:
            return np.zeros(g.shape, dtype=float)
        out = fs_tf.adjustments(self.tf, self.comparisons, f, np.asarray(i, np.int64), g)
        if self.household_guard and len(g):
            # one address or landline: a family shares the surname whatever its frequency
            k = {c.name: n for n, c in enumerate(self.comparisons)}
            shared = np.isin(g[:, k["address"]], (0, 1, 2, 3)) | (g[:, k["phone"]] == 0)
            out[shared, k["last_name"]] = 0.0
        return out

    def score(self, f: fc.Frame, i: np.ndarray, j: np.ndarray) -> Scored:
        """Levels, term-frequency bits, weight and probability of the pairs ``(i, j)``."""
        i, j = np.asarray(i, np.int64), np.asarray(j, np.int64)
        g = self.gammas(f, i, j)
        adjust = self.adjustments(f, i, g)
        weight = self.weights(g, adjust)
        return Scored(g, adjust, weight, _probability(weight))

    def bits(self) -> list[np.ndarray]:
        return [np.log2(m / u) for m, u in zip(self.m, self.u)]

    @property
    def prior_bits(self) -> float:
        return float(np.log2(self.prior / (1 - self.prior)))

    def weights(self, g: np.ndarray, adjust: np.ndarray | None = None) -> np.ndarray:
        """Match weight (bits) per row of the level matrix ``g``, plus the term-frequency
        bits ``adjust`` (``adjustments``) where given."""
        if g.ndim != 2 or g.shape[1] != len(self.comparisons):
            raise ValueError(f"levels of {len(self.comparisons)} comparisons expected, got "
                             f"{g.shape[-1]}: score with Model.score(Model.frame(rows), i, j)")
        total = np.full(len(g), self.prior_bits)
        for k, b in enumerate(self.bits()):
            col = g[:, k]
            total += np.where(col >= 0, b[np.maximum(col, 0)], 0.0)
        if adjust is not None and len(g):
            total += adjust.sum(axis=1)
        if self.household_guard and len(g):
            cap = np.log2(self.review / (1 - self.review))
            total = np.where(household(g, self.comparisons), np.minimum(total, cap), total)
        return total

    def probability(self, g: np.ndarray, adjust: np.ndarray | None = None) -> np.ndarray:
        return _probability(self.weights(g, adjust))

    def explain(self, g_row: np.ndarray, adjust_row: np.ndarray | None = None
                ) -> list[tuple[str, str, float]]:
        """(comparison, level, bits) of one pair, for a waterfall; never the values. The
        bits include the term-frequency adjustment where ``adjust_row`` is given."""
        out = [("prior", "", self.prior_bits)]
        for k, (c, b) in enumerate(zip(self.comparisons, self.bits())):
            level = int(g_row[k])
            extra = 0.0 if adjust_row is None else float(adjust_row[k])
            out.append((c.name, "null" if level < 0 else c.levels[level],
                        0.0 if level < 0 else float(b[level]) + extra))
        return out

    # -- file ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        comparisons = {c.name: [_level(name, float(m[i]), float(u[i]))
                                for i, name in enumerate(c.levels)]
                       for c, m, u in zip(self.comparisons, self.m, self.u)}
        body: dict[str, Any] = {
            "format": FORMAT, "prior": float(f"{self.prior:.6g}"),
            "thresholds": {"auto_merge": self.auto_merge, "review": self.review},
            "blocking": {"rules": [fb.rule(r).to_json() for r in self.blocking],
                         "max_block": self.max_block},
            "household_guard": self.household_guard, "comparisons": comparisons}
        custom = {c.name: c.spec for c in self.comparisons if c.spec}
        if custom:
            body["custom_comparisons"] = custom
        if self.tf is not None:
            body["term_frequencies"] = self.tf.to_dict(self.comparisons)
        body["trained"] = self.trained
        digest = hashlib.sha256(json.dumps({k: v for k, v in body.items() if k != "trained"},
                                           sort_keys=True).encode()).hexdigest()
        return {"version": digest[:12], **body}

    @property
    def version(self) -> str:
        return str(self.to_dict()["version"])

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "model") -> Model:
        if data.get("format") != FORMAT:
            raise ValueError(f"{where}: not a Kontor matching model (format {FORMAT} expected)")
        comparisons = data.get("comparisons", {})
        try:
            custom = tuple(fs_fields.from_spec(spec)
                           for spec in data.get("custom_comparisons", {}).values())
            rules = tuple(fb.rule(r).spec for r in data.get("blocking", {}).get(
                "rules", BLOCKING_RULES))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        every = fc.COMPARISONS + custom
        m, u = [], []
        for c in every:
            levels = comparisons.get(c.name)
            if not levels or [lv.get("level") for lv in levels] != list(c.levels):
                raise ValueError(f"{where}: comparisons.{c.name}: levels differ from this "
                                 "Kontor's; train the model again")
            m.append(np.array([float(lv["m"]) for lv in levels]))
            u.append(np.array([float(lv["u"]) for lv in levels]))
        th, bl = data.get("thresholds", {}), data.get("blocking", {})
        tf = data.get("term_frequencies")
        try:
            tables = fs_tf.TermFrequencies.from_dict(tf, every) if tf else None
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        return cls(float(data["prior"]), m, u, rules,
                   float(th.get("auto_merge", 0.95)), float(th.get("review", 0.5)),
                   int(bl.get("max_block", 200)), bool(data.get("household_guard", True)),
                   dict(data.get("trained", {})), every, tables)

    @classmethod
    def load(cls, path: Path) -> Model:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {e.lineno}, column {e.colno}: not JSON") from None
        return cls.from_dict(data, str(path))


def _probability(weight: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp2(-np.clip(weight, -60, 60)))  # type: ignore[no-any-return]


def household(g: np.ndarray, comparisons: Sequence[fc.Comparison] = fc.COMPARISONS
              ) -> np.ndarray:
    """Pairs agreeing on surname (or nearly) and address (or postal code, the street
    missing) whose first names differ outright."""
    k = {c.name: n for n, c in enumerate(comparisons)}
    first, last, address = g[:, k["first_name"]], g[:, k["last_name"]], g[:, k["address"]]
    return (first == len(comparisons[k["first_name"]].levels) - 1) & \
        np.isin(last, (1, 2, 3)) & np.isin(address, (0, 1, 3, 4))


def _level(name: str, m: float, u: float) -> dict[str, Any]:
    m, u = float(f"{m:.6g}"), float(f"{u:.6g}")  # what the file holds is what scores
    return {"level": name, "m": m, "u": u, "bits": round(float(np.log2(m / u)), 3)}


MODEL_DIR = "matching"  # in the deployment: matching/<entity>.model.json


def model_path(base_dir: Path, entity: str) -> Path:
    return base_dir / MODEL_DIR / f"{entity}.model.json"


def for_deployment(base_dir: Path, entity: str) -> Model | None:
    """The entity's trained model in the deployment folder, None if there is none."""
    path = model_path(base_dir, entity)
    if not path.is_file():
        return None
    try:
        return Model.load(path)
    except (ValueError, KeyError, TypeError) as exc:  # a sync must not guess: stop, say where
        raise ConfigError([ConfigProblem(str(path), "", f"not a usable matching model "
                                         f"({exc}); train it again: kontor matching train")]
                          ) from None


# -- training ------------------------------------------------------------------------------


def _floor(counts: np.ndarray, total: float) -> np.ndarray:
    """Probabilities from counts; a level never seen gets half a count, not zero."""
    p = np.maximum(counts, 0.5) / max(total, 1.0)
    return p / p.sum()


def estimate_u(f: fc.Frame, pairs: int, seed: int, source: np.ndarray | None = None,
               comparisons: tuple[fc.Comparison, ...] = fc.COMPARISONS) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    i = rng.integers(0, f.n, pairs)
    j = rng.integers(0, f.n, pairs)
    keep = i != j if source is None else source[i] != source[j]
    g = fc.gammas(f, i[keep], j[keep], comparisons)
    u = []
    for k, c in enumerate(comparisons):
        col = g[:, k][g[:, k] >= 0]
        u.append(_floor(np.bincount(col, minlength=len(c.levels)).astype(float), len(col)))
    return u


def _start_m(comparisons: tuple[fc.Comparison, ...] = fc.COMPARISONS) -> list[np.ndarray]:
    out = []
    for c in comparisons:
        m = np.full(len(c.levels), 0.15 / (len(c.levels) - 1))
        m[_AGREE.get(c.name, 0)] = 0.85
        out.append(m)
    return out


def _posterior(g: np.ndarray, m: list[np.ndarray], u: list[np.ndarray], lam: float,
               active: Sequence[int]) -> np.ndarray:
    logr = np.full(len(g), np.log(lam / (1 - lam)))
    for k in active:
        col = g[:, k]
        ratio = np.log(m[k]) - np.log(u[k])
        logr += np.where(col >= 0, ratio[np.maximum(col, 0)], 0.0)
    return 1.0 / (1.0 + np.exp(-np.clip(logr, -700, 700)))


def em(g: np.ndarray, u: list[np.ndarray], active: Sequence[int], m0: list[np.ndarray],
       lam: float = 0.1, iterations: int = 40, tol: float = 1e-6
       ) -> tuple[list[np.ndarray], float, int]:
    """m (for the ``active`` comparisons) and the share of matches among the pairs ``g``,
    u fixed. Returns (m, share, iterations run)."""
    m = [x.copy() for x in m0]
    for it in range(1, iterations + 1):
        p = _posterior(g, m, u, lam, active)
        new_lam = float(np.clip(p.mean(), 1e-9, 1 - 1e-9))
        moved = abs(new_lam - lam)
        for k in active:
            col = g[:, k]
            valid = col >= 0
            counts = np.bincount(col[valid], weights=p[valid], minlength=len(m[k]))
            new = np.maximum(counts, 1e-9) / max(counts.sum(), 1e-9)
            new = new / new.sum()
            moved = max(moved, float(np.abs(new - m[k]).max()))
            m[k] = new
        lam = new_lam
        if moved < tol:
            return m, lam, it
    return m, lam, iterations


def train(keys: Sequence[str], rows: Sequence[Mapping[str, Any]], *,
          sources: Sequence[str] | None = None, seed: int = 7, u_pairs: int = 300_000,
          max_pairs: int = 2_000_000, max_records: int = 200_000,
          entity: str = "customer", comparisons: Sequence[fc.Comparison] = (),
          blocking: Sequence[fb.RuleSpec] | None = None, max_block: int = 200,
          term_frequencies: Sequence[str] = fs_tf.DEFAULT_FIELDS,
          tf_min_count: int = fs_tf.MIN_COUNT) -> Model:
    """Learn a model from unlabelled records. ``sources``: each record's system; given,
    only pairs of two systems are compared (linking exports, not deduplicating them).

    ``comparisons``: custom comparisons (``fs_fields``) besides the built-in ones;
    ``blocking``: the rules pairs are scored by (default ``BLOCKING_RULES``);
    ``term_frequencies``: the comparisons whose exact agreement is adjusted by how common
    the value is (none: no adjustment).

    Records are put in key order first: the same records in any order give one model.
    More than ``max_records``: a seeded sample of them is learned from."""
    every = fc.COMPARISONS + tuple(comparisons)
    rules = fb.rules(BLOCKING_RULES if blocking is None else blocking)
    order = sorted(range(len(keys)), key=keys.__getitem__)
    if len(order) > max_records:  # a seeded sample: the prior is a rate, m and u shares
        pick = np.random.default_rng(seed + 2).choice(len(order), max_records, replace=False)
        order = [order[n] for n in np.sort(pick).tolist()]
    model = Model(0.5, [], [], tuple(r.spec for r in rules), max_block=max_block,
                  comparisons=every)
    f = model.frame([rows[n] for n in order], entity)
    src = np.array([sources[n] for n in order], dtype=object) if sources is not None else None
    u = estimate_u(f, u_pairs, seed, src, every)
    rng = np.random.default_rng(seed + 1)
    estimates: list[list[np.ndarray]] = [[] for _ in every]
    sessions = []
    for rule in TRAINING_RULES:
        fields = set(fc.BLOCKING[rule][0])
        active = [k for k, c in enumerate(every) if not fields & set(c.fields)]
        i, j = fc.blocked_pairs(f, [rule], 200, src)
        if len(i) > max_pairs:
            pick = np.sort(rng.choice(len(i), max_pairs, replace=False))
            i, j = i[pick], j[pick]
        if len(i) < 50:
            continue
        m, share, its = em(fc.gammas(f, i, j, every), u, active, _start_m(every))
        for k in active:
            estimates[k].append(m[k])
        sessions.append({"rule": rule, "pairs": len(i), "match_share": round(share, 4),
                         "iterations": its})
    m_final = [np.mean(e, axis=0) if e else _start_m(every)[k]
               for k, e in enumerate(estimates)]
    model.m = [np.maximum(x, 1e-6) / np.maximum(x, 1e-6).sum() for x in m_final]
    model.u = u
    i, j = fc.blocked_pairs(f, rules, model.max_block, src)
    g = fc.gammas(f, i, j, every)
    _, share, _ = em(g, u, [], model.m, lam=0.01, iterations=50)  # the prior only
    possible = f.n * (f.n - 1) / 2 if src is None else _cross_pairs(src)
    model.prior = float(np.clip(share * len(i) / max(possible, 1.0), 1e-12, 0.5))
    if term_frequencies:
        salt = fs_tf.salt_for((keys[n] for n in order), seed)
        model.tf = fs_tf.learn(f, every, term_frequencies, salt, tf_min_count)
    model.trained = {"records": f.n, "blocked_pairs": len(i), "random_pairs": u_pairs,
                     "sessions": sessions, "seed": seed,
                     "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return Model.from_dict(model.to_dict())  # rounded as saved: scores equal the file's


def _cross_pairs(src: np.ndarray) -> float:
    _, counts = np.unique(src, return_counts=True)
    return float((counts.sum() ** 2 - (counts ** 2).sum()) / 2)


# -- linking -------------------------------------------------------------------------------


@dataclass
class Links:
    """Scored candidate pairs (indices into the records as given) and their clusters."""

    i: np.ndarray
    j: np.ndarray
    probability: np.ndarray
    cluster: list[int]  # per record, the smallest record index of its cluster


def link(model: Model, rows: Sequence[Mapping[str, Any]], *,
         sources: Sequence[str] | None = None, threshold: float | None = None,
         entity: str = "customer") -> Links:
    """Score blocked pairs and join pairs at or above ``threshold`` (default: the model's
    auto_merge) into clusters. The clusters depend on the records, not their order."""
    f = model.frame(rows, entity)
    src = np.array(sources, dtype=object) if sources is not None else None
    i, j = fc.blocked_pairs(f, model.blocking, model.max_block, src)
    p = model.score(f, i, j).probability
    cut = model.auto_merge if threshold is None else threshold
    return Links(i, j, p, components(f.n, i[p >= cut], j[p >= cut]))


def components(n: int, i: np.ndarray, j: np.ndarray) -> list[int]:
    """Connected components; each record labelled with its component's smallest index.

    Vectorised: every pair hooks the larger of its two roots under the smaller, then the
    trees are flattened, until both ends of every pair share a root. A parent is never
    larger than its child, so the root left is the component's smallest index."""
    parent = np.arange(n, dtype=np.int64)
    i, j = np.asarray(i, np.int64), np.asarray(j, np.int64)
    while len(i):
        pi, pj = parent[i], parent[j]
        apart = pi != pj
        if not apart.any():
            break
        i, j, pi, pj = i[apart], j[apart], pi[apart], pj[apart]
        np.minimum.at(parent, np.maximum(pi, pj), np.minimum(pi, pj))
        while True:
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
    return parent.tolist()  # type: ignore[no-any-return]
