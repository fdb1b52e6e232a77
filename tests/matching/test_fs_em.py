"""EM recovers known m-probabilities and the match share from synthetic level vectors."""

from __future__ import annotations

import numpy as np

from hub.matching import fs_model

TRUE_M = [np.array([0.8, 0.15, 0.05]), np.array([0.7, 0.2, 0.1]),
          np.array([0.9, 0.1]), np.array([0.6, 0.3, 0.1])]
TRUE_U = [np.array([0.01, 0.09, 0.9]), np.array([0.02, 0.08, 0.9]),
          np.array([0.05, 0.95]), np.array([0.05, 0.15, 0.8])]


def _sample(n: int, share: float, seed: int, missing: float = 0.0) -> np.ndarray:
    """Level vectors of ``n`` pairs, ``share`` of them matches (independent comparisons)."""
    rng = np.random.default_rng(seed)
    match = rng.random(n) < share
    g = np.empty((n, len(TRUE_M)), dtype=np.int8)
    for k, (m, u) in enumerate(zip(TRUE_M, TRUE_U)):
        g[:, k] = np.where(match, rng.choice(len(m), n, p=m), rng.choice(len(u), n, p=u))
        g[rng.random(n) < missing, k] = -1  # absent on a side: no evidence
    return g


def _start() -> list[np.ndarray]:
    return [np.full(len(m), 1 / len(m)) + np.eye(len(m))[0] * 0.5 for m in TRUE_M]


def test_em_recovers_m_and_share_with_u_fixed() -> None:
    g = _sample(60_000, 0.3, seed=1, missing=0.1)
    start = [x / x.sum() for x in _start()]
    m, share, iterations = fs_model.em(g, TRUE_U, range(len(TRUE_M)), start, lam=0.1,
                                       iterations=200)
    assert abs(share - 0.3) < 0.01
    for got, want in zip(m, TRUE_M):
        assert np.abs(got - want).max() < 0.02, (got, want)
    assert iterations < 200  # converged, not cut off


def test_em_leaves_inactive_comparisons_alone() -> None:
    """A session's blocking fields agree by construction there: their m is not learned."""
    g = _sample(20_000, 0.5, seed=2)
    start = [x / x.sum() for x in _start()]
    m, _, _ = fs_model.em(g, TRUE_U, [0, 1], start)
    assert np.array_equal(m[2], start[2]) and np.array_equal(m[3], start[3])
    assert np.abs(m[0] - TRUE_M[0]).max() < 0.03


def test_em_is_deterministic() -> None:
    g = _sample(10_000, 0.2, seed=3)
    start = [x / x.sum() for x in _start()]
    a = fs_model.em(g, TRUE_U, range(4), start)
    b = fs_model.em(g, TRUE_U, range(4), start)
    assert a[1] == b[1] and all(np.array_equal(x, y) for x, y in zip(a[0], b[0]))


def test_u_from_random_pairs_is_near_chance() -> None:
    """On generated people, two random records almost never share a birth date or an
    e-mail address, and almost always differ in first name."""
    from bench import person_data
    from hub.matching import fs_compare as fc

    data = person_data.dedupe(3000, seed=5)
    f = fc.Frame([v for _, _, v in data.records])
    u = fs_model.estimate_u(f, 50_000, seed=1)
    names = {c.name: k for k, c in enumerate(fc.COMPARISONS)}
    assert u[names["date_of_birth"]][0] < 0.002
    assert u[names["email"]][0] < 0.002
    assert u[names["first_name"]][-1] > 0.95
