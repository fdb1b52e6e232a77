"""Term-frequency adjustments: agreeing on "Schmidt" says less than agreeing on "Ødegård".

A comparison's ``u`` at its exact level is an average over all values: the chance two
different people share *some* value. For one value ``v`` that chance is about its
frequency ``tf(v)``, so a pair agreeing exactly on ``v`` gets, on top of the level's
``log2(m / u)``, the adjustment ``log2(u / tf(v))`` (as in Splink): negative for common
values, positive for rare ones.

The model file must not hold names. So a table lists only values held by at least
``min_count`` training records (a value that common identifies nobody), each as a keyed
digest (HMAC-SHA256 with the model's salt, cut to 12 hex digits), never in clear. Every
rarer value counts as "rare": one frequency for all of them (the mean frequency of the
value two agreeing records share, taken over the rare values), so a rare value leaves no
trace in the file.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hub.matching.fs_compare import Comparison
from hub.matching.fs_frame import Frame
from hub.matching.settings import DEFAULT_TF, TF_MIN_COUNT

#: comparisons adjusted by default (restricted fields never are)
DEFAULT_FIELDS = DEFAULT_TF
MIN_COUNT = TF_MIN_COUNT
_DIGITS = 12


def salt_for(keys: Iterable[str], seed: int) -> str:
    """A salt derived from the training records' keys: the same records give the same
    model file (and version); another deployment's records another salt."""
    h = hashlib.sha256(f"kontor-tf|{seed}".encode())
    for k in keys:
        h.update(k.encode("utf-8", "surrogatepass") + b"\x1f")
    return h.hexdigest()[:32]


def digest(salt: str, comparison: str, value: str) -> str:
    """The keyed digest a value is listed under (per comparison: one name in two fields
    gives two digests)."""
    return hmac.new(bytes.fromhex(salt), f"{comparison}\x1f{value}".encode(),
                    hashlib.sha256).hexdigest()[:_DIGITS]


@dataclass
class Table:
    """Frequencies of one comparison's values."""

    level: int  # the adjusted level's index
    column: str  # the frame column the values come from
    rare: float  # the frequency of every value not listed
    values: dict[str, float]  # digest -> frequency among records holding the field
    mean: float  # the frequency of a random record's value (sum of squared frequencies)
    weight: float = 1.0  # 0 switches the adjustment off, 1 is the full adjustment


@dataclass
class TermFrequencies:
    salt: str
    min_count: int = MIN_COUNT
    tables: dict[str, Table] = field(default_factory=dict)

    def to_dict(self, comparisons: Sequence[Comparison]) -> dict[str, Any]:
        levels = {c.name: c.levels for c in comparisons}
        return {"salt": self.salt, "min_count": self.min_count, "tables": {
            name: {"level": levels[name][t.level], "weight": t.weight,
                   "mean": float(f"{t.mean:.4g}"), "rare": float(f"{t.rare:.4g}"),
                   "values": {d: float(f"{v:.4g}") for d, v in sorted(t.values.items())}}
            for name, t in self.tables.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], comparisons: Sequence[Comparison]
                  ) -> TermFrequencies:
        by_name = {c.name: c for c in comparisons}
        tables = {}
        for name, t in data.get("tables", {}).items():
            c = by_name.get(name)
            if c is None or c.tf is None or t.get("level") not in c.levels:
                raise ValueError(f"term_frequencies.{name}: no such comparison with an exact "
                                 "level; train the model again")
            tables[name] = Table(c.levels.index(t["level"]), c.tf.column, float(t["rare"]),
                                 {str(d): float(v) for d, v in t.get("values", {}).items()},
                                 float(t["mean"]), float(t.get("weight", 1.0)))
        return cls(str(data["salt"]), int(data.get("min_count", MIN_COUNT)), tables)


def learn(f: Frame, comparisons: Sequence[Comparison], names: Sequence[str], salt: str,
          min_count: int = MIN_COUNT) -> TermFrequencies:
    """Frequency tables of the comparisons ``names`` over the records of ``f``."""
    out = TermFrequencies(salt, min_count)
    for c in comparisons:
        if c.name not in names or c.tf is None or not f.n:
            continue
        c.compute(f, np.zeros(1, np.int64), np.zeros(1, np.int64))  # builds its columns
        values = f.col[c.tf.column]
        counts = pd.Series(values[values != ""]).value_counts()
        total = float(counts.sum())
        if not total:
            continue
        common = counts[counts >= min_count]
        rare = counts[counts < min_count].to_numpy(dtype=float)
        rare_tf = float((rare ** 2).sum() / (total * rare.sum())) if len(rare) else 1 / total
        all_counts = counts.to_numpy(dtype=float)
        out.tables[c.name] = Table(
            c.levels.index(c.tf.level), c.tf.column, rare_tf,
            {digest(salt, c.name, str(v)): n / total for v, n in common.items()},
            float((all_counts ** 2).sum() / total ** 2))
    return out


def record_frequencies(tf: TermFrequencies, name: str, f: Frame) -> np.ndarray:
    """Per record, the frequency of its value of comparison ``name`` (cached on ``f``)."""
    key = f"tf:{name}:{tf.salt}"
    found = f._derived.get(key)
    if found is None:
        t = tf.tables[name]
        codes, uniques = pd.factorize(f.col[t.column], use_na_sentinel=False)
        per_value = np.array([t.values.get(digest(tf.salt, name, str(u)), t.rare)
                              for u in uniques], dtype=float)
        found = per_value[codes] if len(codes) else np.zeros(0)
        f._derived[key] = found
    return found


def adjustments(tf: TermFrequencies, comparisons: Sequence[Comparison], f: Frame,
                i: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Bits to add per pair and comparison: ``log2(mean / tf(value))`` where the pair
    agrees exactly (the value is then the same on both sides), 0 elsewhere."""
    out = np.zeros(g.shape, dtype=float)
    for k, c in enumerate(comparisons):
        t = tf.tables.get(c.name)
        if t is None or not t.weight or not len(i):
            continue
        at = g[:, k] == t.level
        if not at.any():
            continue
        freq = np.maximum(record_frequencies(tf, c.name, f)[i[at]], 1e-12)
        out[at, k] = t.weight * np.log2(t.mean / freq)
    return out
