"""Why the model scores a pair as it does: the weight of each comparison, as a waterfall.

The explanation holds comparison levels, m, u and bits, never a value: it may be shown
to anyone who may run the model, whatever the fields' privacy classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hub.matching.fs_model import Model


def decision(model: Model, probability: float) -> str:
    if probability >= model.auto_merge:
        return "auto_merge"
    if probability >= model.review:
        return "review"
    return "no_match"


def explain_pair(model: Model, a: Mapping[str, Any], b: Mapping[str, Any],
                 entity: str = "customer") -> dict[str, Any]:
    """The waterfall of one pair of records (canonical values): the prior, then per
    comparison its level, the level's bits, the term-frequency bits, and the running
    total; then the weight, the probability, the thresholds and the decision."""
    f = model.frame([a, b], entity)
    s = model.score(f, np.array([0]), np.array([1]))
    g, adjust = s.g[0], s.adjust[0]
    running = model.prior_bits
    steps: list[dict[str, Any]] = []
    for k, (c, bits) in enumerate(zip(model.comparisons, model.bits())):
        level = int(g[k])
        if level < 0:
            steps.append({"comparison": c.name, "level": "null", "m": None, "u": None,
                          "bits": 0.0, "tf_bits": 0.0, "total": round(running, 3)})
            continue
        tf_bits = float(adjust[k])
        running += float(bits[level]) + tf_bits
        steps.append({"comparison": c.name, "level": c.levels[level],
                      "m": float(model.m[k][level]), "u": float(model.u[k][level]),
                      "bits": round(float(bits[level]), 3), "tf_bits": round(tf_bits, 3),
                      "total": round(running, 3)})
    weight = float(s.weight[0])
    probability = float(s.probability[0])
    return {"model": model.version, "prior": {"probability": model.prior,
                                              "bits": round(model.prior_bits, 3)},
            "comparisons": steps,
            # the household guard may hold the sum below the review threshold
            "household_guard": bool(abs(weight - running) > 1e-9),
            "weight": round(weight, 3), "probability": probability,
            "thresholds": {"auto_merge": model.auto_merge, "review": model.review},
            "decision": decision(model, probability)}
