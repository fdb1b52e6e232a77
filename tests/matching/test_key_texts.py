"""The stored blocking keys of source records find exactly the model's blocked pairs.

``hub.matching.key_texts`` spells out what ``fs_blocking`` computes as frame-local codes;
if a rule changes on one side only, the sync would compare other pairs than training and
``fs_model.link`` do. Built-in and custom rules, on generated people.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

import numpy as np
import pytest

from bench import person_data
from hub.matching import fs_blocking as fb
from hub.matching import key_texts
from hub.matching.fs_frame import Frame

CUSTOM = [("first(last_name, 3)", "postal_code"), ("soundex(first_name)", "year(date_of_birth)"),
          ("initial(last_name)", "digits(phone)", "last(email, 4)")]


@pytest.fixture(scope="module")
def frame() -> Frame:
    data = person_data.dedupe(1500, seed=4)
    return Frame([v for _, _, v in data.records])


def _pairs_of_texts(texts: list[list[str]]) -> set[tuple[int, int]]:
    holders: dict[str, list[int]] = defaultdict(list)
    for n, found in enumerate(texts):
        for t in found:
            holders[t].append(n)
    return {(a, b) for here in holders.values() for a, b in combinations(sorted(here), 2)}


@pytest.mark.parametrize("rule", [*fb.BLOCKING, *CUSTOM], ids=str)
def test_records_share_a_key_text_exactly_when_they_share_a_block(frame: Frame,
                                                                   rule: fb.RuleSpec) -> None:
    i, j = fb.rule_pairs(fb.block_keys(frame, rule), max_block=frame.n)
    blocked = set(zip(i.tolist(), j.tolist()))
    texts = key_texts.texts(frame, [rule])
    assert _pairs_of_texts(texts) == blocked
    assert len(blocked) > 10  # the rule blocks something here
    assert all(len(found) <= 1 for found in texts)  # one key per rule and record


def test_texts_of_some_rows_are_those_rows_texts(frame: Frame) -> None:
    rows = np.array([5, 17, 400])
    every = key_texts.texts(frame, ["dob_initials", "phone"])
    assert key_texts.texts(frame, ["dob_initials", "phone"], rows.tolist()) == \
        [every[n] for n in rows]
