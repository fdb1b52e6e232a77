"""Out of the box, the sync learns a model from the data once there is enough of it.

No matching settings: the first sync scores with fixed weights, then, with 1,000 source
records in the store and no model file, trains the Fellegi-Sunter model without labels,
re-keys the store and matches again. Measured against the generated truth, it must find
clearly more duplicates than the fixed scoring alone, through the write path (merges
audited with the model's version), once: the next sync keeps the model.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bench import person_data
from hub.audit import signing, verify
from hub.audit.tables import AuditEntry
from hub.cli.main import app
from hub.context import open_hub
from hub.matching import fs_eval, fs_model
from hub.store import bulk
from hub.store.tables import Xref
from hub.sync import auto_model
from hub.sync.runner import run_sync
from tests.matching.deploy import system, write_deployment

DATA = person_data.linkage(2400, seed=5)


def _deploy(folder: Path, config: str = "") -> Path:
    path = write_deployment(folder, system("crm", resource="A.csv") +
                            system("shop", resource="B.csv"), config,
                            {"crm": person_data.MAPPING, "shop": person_data.MAPPING},
                            batch_size=1000)
    person_data.write(DATA, folder / "data")
    return path


def _f1(config: Path, data: person_data.Dataset = DATA) -> float:
    hub = open_hub(config)
    try:
        x = bulk.table_of(Xref)
        with hub.engine.connect() as conn:
            golden = dict(conn.execute(select(x.c.source_key, x.c.golden_id)).all())
    finally:
        hub.close()
    keys = [k for k, _, _ in data.records]
    sources = [s for _, s, _ in data.records]  # two: pairs across them; one: all pairs
    return fs_eval.scores([data.truth[k] for k in keys], [golden.get(k, k) for k in keys],
                          sources if len(set(sources)) > 1 else None)["f1"]


def test_the_sync_trains_a_model_by_itself_and_finds_more(tmp_path: Path) -> None:
    fixed = _deploy(tmp_path / "fixed", "matching:\n  customer:\n    model: {auto_train: 0}\n")
    hub = open_hub(fixed)
    try:
        assert run_sync(hub.deployment, hub.engine).trained == []
    finally:
        hub.close()
    assert not fs_model.model_path(tmp_path / "fixed", "customer").exists()

    auto = _deploy(tmp_path / "auto")
    assert CliRunner().invoke(app, ["--config", str(auto), "plan"]).exit_code in (0, 2)
    path = fs_model.model_path(tmp_path / "auto", "customer")
    assert not path.exists()  # a plan writes nothing, no model either
    hub = open_hub(auto)
    try:
        [trained] = run_sync(hub.deployment, hub.engine).trained
        assert trained.records >= 1000 and trained.merged > 0
        assert path.is_file() and path.with_suffix(".html").is_file()
        assert fs_model.Model.load(path).version == trained.version
        with hub.engine.connect() as conn:
            entries = conn.execute(select(bulk.table_of(AuditEntry))).mappings().all()
        report = verify.verify(hub.engine, signing.public_keys(hub.deployment.keyring()))
        assert report.ok, report
        [train_entry] = [e for e in entries if e["kind"] == "matching.train"]
        assert train_entry["detail"]["version"] == trained.version
        merges = [e for e in entries if e["kind"] == "record.merge"
                  and e["outcome"] == "merged_away"]
        assert len(merges) >= trained.merged
        assert any(trained.version in json.dumps(e["detail"]) for e in merges)
        again = run_sync(hub.deployment, hub.engine)  # the model stays: nothing to train
        assert again.trained == [] and fs_model.Model.load(path).version == trained.version
    finally:
        hub.close()
    assert _f1(auto) > _f1(fixed) + 0.02


def test_the_summary_says_a_model_was_learned(tmp_path: Path) -> None:
    small = person_data.dedupe(150, seed=6)
    config = write_deployment(tmp_path, system("crm", resource="S.csv"),
                              "matching:\n  customer:\n    model: {auto_train: 100}\n",
                              {"crm": person_data.MAPPING})
    person_data.write(small, tmp_path / "data")
    result = CliRunner().invoke(app, ["--config", str(config), "sync"])
    assert result.exit_code in (0, 2), result.output
    line = " ".join(result.output.split())
    assert "learned from 150 customer records (no labels)" in line
    assert "matching/customer.model.json" in line
    report = CliRunner().invoke(app, ["--config", str(config), "sync", "--json"])
    assert json.loads(report.stdout)["models_trained"] == []  # once only


def _stored_keys(folder: Path) -> tuple[set[tuple[str, str]], set[tuple[str, int]]]:
    with sqlite3.connect(folder / "kontor.db") as db:
        return (set(db.execute("SELECT value, golden_id FROM match_key")),
                set(db.execute("SELECT value, xref_id FROM source_key")))


@pytest.mark.parametrize("shape", ["one source", "two sources"])
def test_a_long_first_read_trains_in_its_middle_and_matches_the_rest_with_the_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shape: str) -> None:
    """Training holds only the records stored when it starts (here 1,000 or so of 2,400;
    100,000 of millions in use), once every source has sent some; every record after them
    is matched with the model, under the model's blocking keys, and the result is as good
    as training after the read."""
    monkeypatch.setattr(auto_model, "DURING_READ", 600)  # below auto_train: 1,000 decides
    monkeypatch.setattr(auto_model, "CHECK_EVERY", 200)
    data = DATA if shape == "two sources" else person_data.dedupe(2400, seed=5)
    files = {"crm": "A", "shop": "B"} if shape == "two sources" else {"crm": "S"}
    folders = {}
    for name, config in (("fixed", "matching:\n  customer:\n    model: {auto_train: 0}\n"),
                         ("mid", "")):
        folders[name] = write_deployment(
            tmp_path / name, "".join(system(s, resource=f"{f}.csv")
                                     for s, f in files.items()), config,
            {s: person_data.MAPPING for s in files}, batch_size=200)
        person_data.write(data, tmp_path / name / "data")
    hub = open_hub(folders["fixed"])
    try:
        run_sync(hub.deployment, hub.engine)
    finally:
        hub.close()
    hub = open_hub(folders["mid"])
    try:
        result = run_sync(hub.deployment, hub.engine)
        [trained] = result.trained
        first = next(s for s in result.streams if s.system == "crm")
        if shape == "one source":  # at the first count past 1,000 records stored
            assert 1000 <= trained.records <= 1200
        else:  # once the shop has sent records too: all of the crm's and a batch or two
            assert first.created < trained.records <= first.created + 400
        assert trained.records < len(data.records)  # the read went on with the model
        with hub.engine.connect() as conn:
            kinds = [k for k in conn.execute(select(bulk.table_of(AuditEntry).c.kind))
                     .scalars() if k == "matching.train"]
        assert kinds == ["matching.train"]  # once, not again after the read
        assert verify.verify(hub.engine, signing.public_keys(hub.deployment.keyring())).ok
    finally:
        hub.close()
    # every key in the store is the model's: re-made from scratch they are the same
    before = _stored_keys(tmp_path / "mid")
    forced = CliRunner().invoke(app, ["--config", str(folders["mid"]), "matching", "rekey",
                                      "--entity", "customer", "--force"])
    assert forced.exit_code == 0, forced.output
    assert _stored_keys(tmp_path / "mid") == before
    assert _f1(folders["mid"], data) > _f1(folders["fixed"], data) + 0.02
