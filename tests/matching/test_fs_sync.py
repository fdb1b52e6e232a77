"""A trained model in the deployment decides the sync's fuzzy matches; none: as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bench import person_data
from hub.audit import signing, verify
from hub.audit.tables import AuditEntry
from hub.context import open_hub
from hub.errors import ConfigError
from hub.matching import fs_model
from hub.matching.profile import profile
from hub.matching.score import score
from hub.matching.settings import FuzzySettings
from hub.store import bulk
from hub.survivorship import review
from hub.sync.runner import run_sync
from tests.matching.deploy import PERSON, person, system, write_deployment, write_rows
from tests.matching.test_matching_sync import _xrefs

HOME = {"street": "Hauptstraße 5", "zip": "10115", "city": "Berlin", "dob": "1980-03-04"}


@pytest.fixture(scope="module")
def model() -> fs_model.Model:
    d = person_data.dedupe(3000, seed=9)
    return fs_model.train([k for k, _, _ in d.records], [v for _, _, v in d.records])


def _run(folder: Path, model: fs_model.Model) -> dict[tuple[str, str], str]:
    write_deployment(folder, system("crm") + system("shop"), "",
                     {"crm": PERSON, "shop": PERSON})
    write_rows(folder, "crm", [person("1", "Anna", "Schmidt", **HOME)])
    write_rows(folder, "shop", [
        # the same person, another house number after a typo: no e-mail, no phone
        person("s1", "Anna", "Schmidt", **{**HOME, "street": "Hauptstraße 9"}),
        # her twin: same surname, birth date and address, another first name
        person("s2", "Lena", "Schmidt", **HOME)])
    path = fs_model.model_path(folder, "customer")
    path.parent.mkdir(exist_ok=True)
    model.save(path)
    hub = open_hub(folder / "kontor.yaml")
    try:
        run_sync(hub.deployment, hub.engine)
        xrefs = _xrefs(hub)
        pairs = review.pairs(hub)
        a = bulk.table_of(AuditEntry)
        with hub.engine.connect() as conn:
            details = {r.source_key: r.detail for r in conn.execute(select(
                a.c.source_key, a.c.detail).where(a.c.kind == "transfer.in"))}
        report = verify.verify(hub.engine, signing.public_keys(hub.deployment.keyring()))
        assert report.ok, report
    finally:
        hub.close()
    return {**xrefs, ("pairs", str(len(pairs))): str([p.get("evidence") for p in pairs]),
            ("audit", "s1"): str(details.get("s1"))}


def test_model_merges_what_fixed_scoring_sends_to_review(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
        model: fs_model.Model) -> None:
    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    anna = {"first_name": "Anna", "last_name": "Schmidt", "street": "Hauptstraße 5",
            "postal_code": "10115", "city": "Berlin", "date_of_birth": "1980-03-04"}
    fixed, _ = score(profile("customer", anna),
                     profile("customer", {**anna, "street": "Hauptstraße 9"}))
    assert fixed < FuzzySettings().auto_merge  # without a model: a review pair at best
    after = _run(tmp_path, model)
    assert after[("crm", "1")] == after[("shop", "s1")]
    assert after[("shop", "s2")] != after[("crm", "1")]  # the twin stays apart
    # ... and waits for the steward, with the model's version and levels as evidence
    evidence = next(v for k, v in after.items() if k[0] == "pairs")
    assert model.version in evidence and "first_name" in evidence
    # the merge's audit entry names the model and the levels that decided
    audit = after[("audit", "s1")]
    assert f"'model': '{model.version}'" in audit and "same_street_other_number" in audit


def test_a_broken_model_stops_with_its_path(tmp_path: Path) -> None:
    path = fs_model.model_path(tmp_path, "customer")
    path.parent.mkdir()
    path.write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(ConfigError, match="customer.model.json.*train it again"):
        fs_model.for_deployment(tmp_path, "customer")
    assert fs_model.for_deployment(tmp_path / "none", "customer") is None


def test_train_from_the_store_into_the_deployment(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`kontor matching train` without files learns from the synced source records and
    writes the model where the next sync's matcher finds it."""
    from typer.testing import CliRunner

    from hub.cli.main import app
    from hub.golden.writer import matcher_for

    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    config = write_deployment(tmp_path, system("crm", resource="A.csv") +
                              system("shop", resource="B.csv"), "",
                              {"crm": person_data.MAPPING, "shop": person_data.MAPPING})
    person_data.write(person_data.linkage(1500, seed=3), tmp_path / "data")
    hub = open_hub(config)
    try:
        run_sync(hub.deployment, hub.engine)
        # enough records and no model file: the sync trained one by itself
        auto = matcher_for(hub.deployment, "customer").model
        assert auto is not None and auto.trained["records"] > 1000
    finally:
        hub.close()
    result = CliRunner().invoke(app, ["--config", str(config), "matching", "train", "--link",
                                      "--json"])
    assert result.exit_code == 0, result.output
    path = fs_model.model_path(tmp_path, "customer")
    assert path.is_file()
    trained = fs_model.Model.load(path)
    assert trained.trained["records"] > 1000 and 0 < trained.prior < 0.01
    hub = open_hub(config)
    try:
        assert matcher_for(hub.deployment, "customer").model is not None
    finally:
        hub.close()
