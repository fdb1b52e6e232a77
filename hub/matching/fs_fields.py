"""Comparisons of any canonical or custom field, built from a kind.

| kind | levels, in order | normalised as |
|---|---|---|
| exact | exact, else | letters and digits only ("DE-12 34" = "de1234") |
| name | exact, jw_<t>..., else (default 0.92, 0.80) | folded like names ("Müller" = "mueller") |
| jaro_winkler | exact, jw_<t>..., else (default 0.92, 0.80) | lower case, accents out |
| date | exact, day_month_swapped, off_by_one, two_of_three, year, else | from its digits |
| numeric | exact, within_<t>..., else (relative difference; default 0.01, 0.10) | a number |

A field declared without a kind takes its data category's default (``default_kind``), so
a national id, a state or a second address line need no more than their name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hub.matching import profile as prof
from hub.matching.fs_compare import (
    COMPARISONS,
    DATE_LEVELS,
    Comparison,
    TermFrequency,
    date_levels,
    filled,
    jw,
    levels,
    same,
)
from hub.matching.fs_frame import Frame, compact, date_parts, plain
from hub.matching.settings import ModelSettings

KINDS = ("exact", "name", "jaro_winkler", "date", "numeric")
DEFAULT_THRESHOLDS = {"name": (0.92, 0.8), "jaro_winkler": (0.92, 0.8), "numeric": (0.01, 0.1)}
BUILT_IN = {c.name for c in COMPARISONS}


def default_kind(category: str, type_name: str = "str") -> str:
    """The kind a field of this data category (Fides key) and type is compared with."""
    if type_name in ("date", "datetime") or category.endswith("date_of_birth"):
        return "date"
    if type_name in ("decimal", "int") or category.startswith("user.financial.salary"):
        return "numeric"
    if category.startswith("user.name"):
        return "name"
    if category.startswith(("user.contact.address.street", "user.contact.organization",
                            "user.job_title", "user.workplace")):
        return "jaro_winkler"
    return "exact"  # ids, codes, states, countries, accounts: equal or not


def _number(text: str) -> float:
    try:
        return float(text.replace(",", ".").replace(" ", ""))
    except ValueError:
        return float("nan")


def _threshold_levels(kind: str, thresholds: Sequence[float]) -> tuple[str, ...]:
    prefix = "within" if kind == "numeric" else "jw"
    return ("exact", *(f"{prefix}_{t:.2f}" for t in thresholds), "else")


def comparison(field: str, kind: str | None = None, thresholds: Sequence[float] = (),
               category: str = "", type_name: str = "str") -> Comparison:
    """The comparison of ``field``; ValueError naming what is wrong."""
    if field in BUILT_IN:
        raise ValueError(f"{field!r} is a built-in comparison: it is compared already")
    kind = kind or default_kind(category, type_name)
    if kind not in KINDS:
        raise ValueError(f"comparison {field!r}: unknown kind {kind!r} (one of "
                         f"{', '.join(KINDS)})")
    if thresholds and kind in ("exact", "date"):
        raise ValueError(f"comparison {field!r}: kind {kind} takes no thresholds")
    ts = tuple(float(t) for t in thresholds) or DEFAULT_THRESHOLDS.get(kind, ())
    if kind != "numeric" and any(not 0 < t < 1 for t in ts):
        raise ValueError(f"comparison {field!r}: similarity thresholds lie between 0 and 1")
    if list(ts) != sorted(ts, reverse=kind != "numeric"):
        raise ValueError(f"comparison {field!r}: thresholds from the strictest to the "
                         "loosest")
    spec: dict[str, object] = {"field": field, "kind": kind, "thresholds": list(ts)}
    if kind == "date":
        return Comparison(field, DATE_LEVELS, (field,), _date_compute(field), None, spec)
    if kind == "numeric":
        return Comparison(field, _threshold_levels(kind, ts), (field,),
                          _numeric_compute(field, ts), None, spec)
    column = f"{kind}:{field}"
    return Comparison(field, _threshold_levels(kind, ts), (field,),
                      _text_compute(field, column, _NORMALISE[kind], ts),
                      TermFrequency("exact", column), spec)


_NORMALISE: dict[str, Callable[[str], str]] = {"exact": compact, "name": prof.fold,
                                               "jaro_winkler": plain}
Compute = Callable[[Frame, np.ndarray, np.ndarray], np.ndarray]


def _date_compute(field: str) -> Compute:
    def compute(f: Frame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        parts = _dates(f, field)
        return date_levels(parts[i], parts[j])
    return compute


def _numeric_compute(field: str, ts: Sequence[float]) -> Compute:
    def compute(f: Frame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        x = _numbers(f, field)
        a, b = x[i], x[j]
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-12)
            return levels([a == b, *(diff <= t for t in ts)], ~np.isnan(a) & ~np.isnan(b))
    return compute


def _text_compute(field: str, column: str, normalise: Callable[[str], str],
                  ts: Sequence[float]) -> Compute:
    def compute(f: Frame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        f.raw_column(field, column, normalise)
        present = filled(f, column, i) & filled(f, column, j)
        conditions = [same(f, column, i, j)]
        if ts:
            score = jw(f.strings(column, i), f.strings(column, j))
            conditions += [score >= t for t in ts]
        return levels(conditions, present)
    return compute


def _derived(f: Frame, key: str, build: Callable[[], np.ndarray]) -> np.ndarray:
    """A column derived from the frame once, kept for every later pair of the frame."""
    found = f._derived.get(key)
    if found is None:
        found = f._derived[key] = build()
    return found


def _dates(f: Frame, field: str) -> np.ndarray:
    def build() -> np.ndarray:
        text = f.raw_column(field, f"text:{field}", lambda s: s).tolist()
        return np.array([date_parts(t) for t in text], dtype=np.int32).reshape(-1, 3)
    return _derived(f, f"date:{field}", build)


def _numbers(f: Frame, field: str) -> np.ndarray:
    def build() -> np.ndarray:
        text = f.raw_column(field, f"text:{field}", lambda s: s).tolist()
        return np.array([_number(t) if t else np.nan for t in text], dtype=float)
    return _derived(f, f"numeric:{field}", build)


def from_spec(spec: Mapping[str, Any]) -> Comparison:
    """A custom comparison from what the model file holds."""
    return comparison(str(spec["field"]), str(spec["kind"]),
                      [float(t) for t in spec.get("thresholds", [])])


def from_settings(settings: ModelSettings, specs: Mapping[str, Any]) -> list[Comparison]:
    """The custom comparisons of ``matching.<entity>.model``; ``specs``: the entity's
    FieldSpecs (their categories choose the kind where none is given)."""
    out = []
    for name, c in settings.compare.items():
        spec = specs.get(name)
        category = getattr(getattr(spec, "category", None), "key", "") or ""
        out.append(comparison(name, c.kind, c.thresholds, str(category),
                              str(getattr(spec, "type", "str"))))
    return out


def tf_fields(settings: ModelSettings, specs: Mapping[str, Any]) -> list[str]:
    """The term-frequency comparisons, restricted fields left out (their values'
    frequencies are written nowhere, not even as digests)."""
    return [n for n in settings.term_frequencies
            if not getattr(specs.get(n), "restricted", False)]
