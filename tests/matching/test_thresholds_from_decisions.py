"""``kontor matching thresholds`` on real decisions: review pairs raised by a real sync,
decided through the steward's own path (``review.decide``, behind ``kontor steward
decide`` and the dashboard), never rows inserted behind it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.context import Hub, open_hub
from hub.matching.thresholds import _hundredths
from hub.survivorship import review
from hub.survivorship.merging import Steward
from hub.sync.runner import run_sync
from tests.matching.deploy import (
    PERSON,
    golden_of,
    person,
    system,
    write_deployment,
    write_rows,
)

runner = CliRunner()
HOME = {"street": "Hauptstraße 5", "zip": "10115", "city": "Berlin", "phone": "030 1234567"}
CRM = [person("1", "Anna", "Schmidt", dob="1980-03-04", email="anna@x.org", **HOME),
       person("2", "Paul", "Weber", dob="1970-01-02", email="paul@x.org", street="Ringweg 3",
              zip="20095", city="Hamburg", phone="040 555111"),
       person("3", "Jonas", "Becker", dob="1990-05-05", email="jonas@x.org",
              street="Am Markt 1", zip="04109", city="Leipzig", phone="0341 999888"),
       person("4", "Ida", "Richter", dob="2001-02-03", email="ida@x.org",
              street="Bahnhofstr 9", zip="80331", city="München", phone="089 7777"),
       person("5", "Eva", "Klein", dob="1965-07-08", email="eva@x.org",
              street="Lindenallee 2", zip="50667", city="Köln", phone="0221 4444"),
       person("6", "Otto", "Lang", dob="1955-11-12")]
# Each shop record looks like one crm person, each with other evidence: five review pairs
SHOP = [person("s1", "Anna", "Schmidt", dob="1980-03-04", zip="80331", city="München",
               street="Ringstraße 9"),
        person("s2", "Paul", "Weber", dob="1970-01-02", street="Anderweg 3", zip="20095",
               city="Hamburg", phone="040 999"),
        person("s3", "Jonas", "Becker", dob="1990-05-05", email="jb@z.org"),
        person("s4", "Ida", "Richter", dob="2001-02-03", email="ida.r@y.org",
               city="Augsburg", zip="86150", street="Bahnhofstr 9"),
        person("s5", "Eva", "Klein", dob="1965-07-08", phone="0221 9999", city="Bonn",
               zip="53111", street="Lindenallee 2"),
        person("s6", "Greta", "Sommer", dob="1988-08-08")]


def _kontor(config: Path, *args: str) -> Any:
    result = runner.invoke(app, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def hub(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    path = write_deployment(tmp_path, system("crm") + system("shop"), "",
                            {"crm": PERSON, "shop": PERSON})
    write_rows(tmp_path, "crm", CRM)
    write_rows(tmp_path, "shop", SHOP)
    opened = open_hub(path)
    run_sync(opened.deployment, opened.engine)
    yield opened
    opened.close()


def test_precision_and_recall_of_the_stewards_decisions_by_hand(hub: Hub,
                                                                 tmp_path: Path) -> None:
    config = hub.deployment.path
    for bad, message in ((("--step", "0.025"), "--step: 0.025 is not a whole number"),
                         (("--entity", "person"), "--entity: 'person'")):
        result = runner.invoke(app, ["--config", str(config), "matching", "thresholds",
                                     *bad])
        assert result.exit_code == 1 and message in result.output
    out = _kontor(config, "matching", "thresholds").stdout
    assert "0 decided review pairs" in out and "no decided review pairs yet" in out

    pairs = review.pairs(hub)
    assert len(pairs) == 5
    r1, r2, r3, r4, r5 = sorted(pairs, key=lambda p: -p["score"])
    h = [_hundredths(p["score"]) for p in (r1, r2, r3, r4, r5)]
    # the data's design: the two strongest, the middle one and the two weakest lie in
    # three different hundredths (what the hand figures below rest on)
    assert h[1] > h[2] > h[3] >= h[4], h
    # the steward (through the path `kontor steward decide` and the dashboard take): the
    # two strongest are one person each, the middle one is not; of the two weakest, one
    # is and one is not
    for pair, decision in ((r1, "merge"), (r2, "merge"), (r3, "keep_apart"),
                           (r4, "merge"), (r5, "keep_apart")):
        review.decide(hub, pair["id"], decision, actor="alice")
    # a hand merge of two records no matcher paired: it has no score and does not count
    otto, greta = golden_of(hub, "crm", "6"), golden_of(hub, "shop", "s6")
    assert {otto, greta}.isdisjoint({p["golden_a"] for p in pairs} |
                                    {p["golden_b"] for p in pairs})
    Steward(hub, "customer").merge(otto, greta, actor="alice")

    figures = json.loads(_kontor(config, "matching", "thresholds", "--json", "--step",
                                 "0.01").stdout)
    assert (figures["decisions"], figures["same"], figures["different"]) == (5, 3, 2)
    assert figures["unscored"] == 1 and figures["scorers"] == {"fixed": 5}
    rows = {round(p["threshold"] * 100): p for p in figures["thresholds"]}
    assert min(rows) == h[4] and max(rows) == 99

    def at(k: int) -> tuple[int, int, float | None, float | None]:
        p = rows[k]
        return p["pairs_above"], p["same_above"], p["precision"], p["recall"]

    assert at(h[4]) == (5, 3, 3 / 5, 1.0)            # everything merged: 2 of 5 wrong
    assert at(h[2]) == (3, 2, 2 / 3, 2 / 3)          # the weakest two not merged any more
    assert at(h[2] + 1) == (2, 2, 1.0, 2 / 3)        # only the two strongest: no error
    assert at(99)[:3] == (0, 0, None)
    hint = figures["suggestion"]
    assert (hint["status"], round(hint["threshold"] * 100), hint["pairs_above"]) == \
        ("too_few", h[2] + 1, 2)
    assert "too few decisions" in hint["text"] and "2 decided pairs" in hint["text"]

    # the same figures for the fixed weights alone; none for a model that scored nothing
    only = json.loads(_kontor(config, "matching", "thresholds", "--json", "--model",
                              "fixed", "--step", "0.01").stdout)
    assert only["thresholds"] == figures["thresholds"] and only["other_scorers"] == 0
    other = json.loads(_kontor(config, "matching", "thresholds", "--json", "--model",
                               "0123abcd").stdout)
    assert (other["decisions"], other["other_scorers"]) == (0, 5)
    assert other["suggestion"]["status"] == "no_decisions"

    page = tmp_path / "thresholds.html"
    shown = _kontor(config, "matching", "thresholds", "--html", str(page), "--step",
                    "0.01").stdout
    assert "decided pairs at or above" in shown and "too few decisions" in shown
    assert f"{h[2] / 100:.2f}" in shown and "0.600" in shown
    html = page.read_text(encoding="utf-8")
    assert html.count("<svg") == 1 and "<script" not in html
    assert "Auto-merge at each threshold: customer (5 decisions)" in html
    for name in ("Anna", "Schmidt", "Weber", "Becker", "Richter", "Klein"):
        assert name not in shown and name not in html  # scores and decisions only
