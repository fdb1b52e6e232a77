"""The trained model on generated people: better than the baseline and than today's
matcher, deterministic, and independent of record order."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from bench import person_data
from hub.matching import fs_eval, fs_model


@pytest.fixture(scope="module", params=["dedupe", "linkage"])
def data(request: pytest.FixtureRequest) -> tuple[str, person_data.Dataset]:
    make = person_data.dedupe if request.param == "dedupe" else person_data.linkage
    return request.param, make(4000, seed=11)


def _parts(shape: str, d: person_data.Dataset) -> tuple[list[str], list[dict[str, Any]],
                                                         list[str] | None, list[int]]:
    keys = [k for k, _, _ in d.records]
    sources = [s for _, s, _ in d.records] if shape == "linkage" else None
    return keys, [v for _, _, v in d.records], sources, [d.truth[k] for k in keys]


def test_model_beats_baseline_and_todays_matcher(data: tuple[str, person_data.Dataset]
                                                 ) -> None:
    from hub.matching.dedupe import clusters
    from hub.matching.settings import DEFAULT_RULES, FuzzySettings

    shape, d = data
    keys, rows, sources, truth = _parts(shape, d)
    model = fs_model.train(keys, rows, sources=sources)
    fs = fs_eval.scores(truth, fs_model.link(model, rows, sources=sources).cluster, sources)
    base = fs_eval.scores(truth, fs_eval.k_of_n(rows, 4, sources=sources), sources)
    found = clusters("customer", zip(keys, rows),
                     FuzzySettings(review=FuzzySettings().auto_merge), DEFAULT_RULES["customer"])
    label = {k: n for n, c in enumerate(found) for k in c.keys}
    today = fs_eval.scores(truth, [label.get(k, k) for k in keys], sources)
    assert fs["f1"] >= 0.96, fs
    assert fs["f1"] > base["f1"] + 0.05, (fs, base)
    assert fs["f1"] > today["f1"] + 0.02, (fs, today)


def test_same_data_same_model_and_clusters(data: tuple[str, person_data.Dataset]) -> None:
    """Training twice gives one model version; shuffled records give the same model and
    the same clusters (as sets of keys)."""
    shape, d = data
    keys, rows, sources, _ = _parts(shape, d)
    model = fs_model.train(keys, rows, sources=sources)
    order = list(range(len(keys)))
    random.Random(3).shuffle(order)
    shuffled = fs_model.train([keys[n] for n in order], [rows[n] for n in order],
                              sources=[sources[n] for n in order] if sources else None)
    assert shuffled.version == model.version == fs_model.train(
        keys, rows, sources=sources).version

    def clusters(ks: list[str], rs: list[dict[str, Any]], ss: list[str] | None
                 ) -> set[frozenset[str]]:
        labels = fs_model.link(model, rs, sources=ss).cluster
        groups: dict[int, set[str]] = {}
        for k, label in zip(ks, labels):
            groups.setdefault(label, set()).add(k)
        return {frozenset(g) for g in groups.values()}

    assert clusters(keys, rows, sources) == clusters(
        [keys[n] for n in order], [rows[n] for n in order],
        [sources[n] for n in order] if sources else None)


def test_generator_is_deterministic() -> None:
    a, b = person_data.dedupe(500, seed=4), person_data.dedupe(500, seed=4)
    assert a.records == b.records and a.truth == b.truth
    assert person_data.dedupe(500, seed=5).records != a.records
    link = person_data.linkage(500, seed=4)
    assert {s for _, s, _ in link.records} == {"A", "B"}
    # every true link joins the two systems: no duplicates inside one export
    assert all(x[0] != y[0] for x, y in link.links())


def test_model_file_round_trip(tmp_path: Path) -> None:
    d = person_data.dedupe(1500, seed=2)
    keys, rows = [k for k, _, _ in d.records], [v for _, _, v in d.records]
    model = fs_model.train(keys, rows)
    path = tmp_path / "model.json"
    model.save(path)
    loaded = fs_model.Model.load(path)
    assert loaded.version == model.version
    assert fs_model.link(loaded, rows).cluster == fs_model.link(model, rows).cluster
    path.write_text('{"format": "kontor-fs-model/1",\n "prior": }', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2, column"):
        fs_model.Model.load(path)


def test_training_on_a_sample_is_seeded() -> None:
    """Past ``max_records`` a seeded sample is learned from: same records, same model, in
    any order; the prior stays a rate of the same order as on all records."""
    d = person_data.dedupe(3000, seed=6)
    keys, rows = [k for k, _, _ in d.records], [v for _, _, v in d.records]
    full = fs_model.train(keys, rows)
    sampled = fs_model.train(keys, rows, max_records=2000)
    again = fs_model.train(keys[::-1], rows[::-1], max_records=2000)
    assert sampled.trained["records"] == 2000 and sampled.version == again.version
    assert sampled.version != full.version
    assert full.prior / 3 < sampled.prior < full.prior * 3
