"""Term-frequency adjustments: a common value counts less than a rare one, and the model
file keeps no value, not even a rare one's digest."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bench import person_data
from hub.matching import fs_compare as fc
from hub.matching import fs_model, fs_tf
from hub.matching.profile import fold


def _people(n: int) -> list[dict[str, str]]:
    """``n`` distinct people; every third one is a Schmidt, the rest rare surnames."""
    def letters(k: int) -> str:  # names hold letters only (digits fold away)
        return "".join(chr(ord("a") + int(d)) for d in str(k))

    return [{"first_name": "Vorname" + letters(k % 7), "last_name": "Schmidt" if k % 3 == 0
             else "Selten" + letters(k), "date_of_birth": f"19{50 + k % 40}-0{1 + k % 9}-1{k % 9}"}
            for k in range(n)]


def test_common_value_counts_less_than_a_rare_one() -> None:
    rows = _people(300)
    f = fc.Frame(rows)
    tf = fs_tf.learn(f, fc.COMPARISONS, ["last_name"], "00" * 16, min_count=10)
    table = tf.tables["last_name"]
    assert len(table.values) == 1  # Schmidt only: 100 records; every other name is rare
    assert table.values[fs_tf.digest(tf.salt, "last_name", "schmidt")] == pytest.approx(1 / 3)
    # two pairs agreeing exactly on the surname: on Schmidt, on a rare name
    i, j = np.array([0, 1]), np.array([3, 1])
    g = fc.gammas(f, i, j)
    adjust = fs_tf.adjustments(tf, fc.COMPARISONS, f, i, g)
    k = [c.name for c in fc.COMPARISONS].index("last_name")
    common, rare = adjust[:, k]
    assert common < 0 < rare
    assert rare - common == pytest.approx(np.log2(table.values[fs_tf.digest(
        tf.salt, "last_name", "schmidt")] / table.rare))
    # only the exact level is adjusted: a first name agreeing by nickname is not
    assert (adjust[:, [c.name for c in fc.COMPARISONS].index("phone")] == 0).all()


@pytest.fixture(scope="module")
def people() -> tuple[list[str], list[dict[str, str]], fs_model.Model]:
    d = person_data.dedupe(3000, seed=11)
    keys, rows = [k for k, _, _ in d.records], [v for _, _, v in d.records]
    return keys, rows, fs_model.train(keys, rows, tf_min_count=4, u_pairs=50_000)


def test_a_model_scores_a_pair_on_a_common_name_lower(
        people: tuple[list[str], list[dict[str, str]], fs_model.Model]) -> None:
    keys, rows, model = people
    assert model.tf is not None and set(model.tf.tables) == {
        "first_name", "last_name", "date_of_birth"}
    counts = Counter(fold(r["last_name"]) for r in rows if r["last_name"])
    common = counts.most_common(1)[0][0]
    rare = next(n for n, c in counts.items() if c == 1 and " " not in n and len(n) > 4)
    pair = {"first_name": "Ilse", "date_of_birth": "1971-05-06", "city": "Bonn"}
    a = [{**pair, "last_name": common}, {**pair, "last_name": common}]
    b = [{**pair, "last_name": rare}, {**pair, "last_name": rare}]
    one, two = np.array([0]), np.array([1])
    on_common = model.score(model.frame(a), one, two)
    on_rare = model.score(model.frame(b), one, two)
    assert (on_common.g == on_rare.g).all()  # the same levels ...
    assert on_common.weight[0] < on_rare.weight[0]  # ... but the common name counts less
    no_tf = fs_model.train(keys, rows, term_frequencies=(), u_pairs=50_000)
    assert no_tf.tf is None and "term_frequencies" not in no_tf.to_dict()


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _schema(data: object) -> object:
    """The file's own words: its keys and strings, the frequency tables' entries left out
    (a value there in clear must not pass for a word of the file)."""
    if isinstance(data, dict):
        return {k: _schema(v) for k, v in data.items() if k != "values"}
    if isinstance(data, list):
        return [_schema(v) for v in data]
    return data if isinstance(data, str) else None


def test_model_file_holds_no_value_and_no_rare_digest(
        tmp_path: Path, people: tuple[list[str], list[dict[str, str]], fs_model.Model]
        ) -> None:
    _, rows, model = people
    assert model.tf is not None
    path = tmp_path / "model.json"
    model.save(path)
    text = path.read_text(encoding="utf-8").lower()
    values = {v for r in rows for f in ("first_name", "last_name", "street", "city", "email",
                                        "date_of_birth", "phone") for v in
              (r.get(f, "").lower(), fold(r.get(f, ""))) if len(v) >= 4}
    schema = set(_words(json.dumps(_schema(model.to_dict()))))  # keys, level names, rules
    words = set(_words(text)) - schema
    assert not [v for v in values if set(_words(v)) <= words]
    assert not [v for v in values if len(v) >= 6 and v in text]
    saved = json.loads(text)["term_frequencies"]
    # exactly the values held by at least min_count records are listed, as digests
    f = model.frame(rows)
    for name, column in (("first_name", "first"), ("last_name", "last"),
                         ("date_of_birth", "dob")):
        counts = Counter(v for v in f.col[column].tolist() if v)
        expected = {fs_tf.digest(model.tf.salt, name, v) for v, c in counts.items() if c >= 4}
        assert set(saved["tables"][name]["values"]) == expected
        assert len(expected) < len(counts) / 2  # most values are rare: not listed at all
    loaded = fs_model.Model.load(path)
    i, j = fc.blocked_pairs(f, model.blocking)
    assert np.allclose(loaded.score(f, i, j).weight, model.score(f, i, j).weight)
    assert loaded.version == model.version


def test_same_records_same_salt_other_records_other_salt() -> None:
    assert fs_tf.salt_for(["a", "b"], 7) == fs_tf.salt_for(["a", "b"], 7)
    assert fs_tf.salt_for(["a", "b"], 7) != fs_tf.salt_for(["a", "c"], 7)
    assert fs_tf.digest("00" * 16, "last_name", "x") != fs_tf.digest("00" * 16,
                                                                     "first_name", "x")
