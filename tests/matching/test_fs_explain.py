"""``kontor matching explain`` (a waterfall of levels and bits, never values), ``kontor
matching blocking``, and the model settings of kontor.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench import person_data
from hub.cli.main import app
from hub.context import open_hub
from hub.errors import ConfigError
from hub.matching import fs_blocking as fb
from hub.matching import fs_model
from hub.sync.runner import run_sync
from tests.matching.deploy import PERSON, person, system, write_deployment, write_rows
from tests.matching.test_matching_sync import _xrefs

HOME = {"street": "Hauptstraße 5", "zip": "10115", "city": "Berlin", "dob": "1980-03-04"}
VALUES = ("Anna", "Lena", "Schmidt", "Hauptstra", "10115", "Berlin", "1980", "03-04")
runner = CliRunner()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[tuple[str, str],
                                                                             str]]:
    folder = tmp_path_factory.mktemp("explain")
    config = write_deployment(folder, system("crm") + system("shop"), "",
                              {"crm": PERSON, "shop": PERSON})
    write_rows(folder, "crm", [person("1", "Anna", "Schmidt", **HOME)])
    write_rows(folder, "shop", [
        person("s1", "Anna", "Schmidt", **{**HOME, "street": "Hauptstraße 9"}),
        person("s2", "Lena", "Schmidt", **HOME)])  # her twin
    d = person_data.dedupe(2000, seed=11)
    model = fs_model.train([k for k, _, _ in d.records], [v for _, _, v in d.records],
                           u_pairs=50_000, tf_min_count=3)
    path = fs_model.model_path(folder, "customer")
    path.parent.mkdir()
    model.save(path)
    hub = open_hub(config)
    try:
        run_sync(hub.deployment, hub.engine)
        xrefs = _xrefs(hub)
    finally:
        hub.close()
    return config, xrefs


def _cli(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), "matching", *args])
    return result.exit_code, result.output


def test_explain_gives_levels_and_bits_never_values(
        deployment: tuple[Path, dict[tuple[str, str], str]], tmp_path: Path) -> None:
    config, _ = deployment
    code, out = _cli(config, "explain", "crm:1", "shop:s1", "--json")
    assert code == 0, out
    assert not [v for v in VALUES if v in out]
    result = json.loads(out)
    model = fs_model.for_deployment(config.parent, "customer")
    assert model is not None and result["model"] == model.version
    levels = {s["comparison"]: s["level"] for s in result["comparisons"]}
    assert levels["first_name"] == "exact" and levels["address"] == "same_street_other_number"
    assert levels["email"] == "null"  # missing on both sides: no evidence
    total = result["prior"]["bits"] + sum(s["bits"] + s["tf_bits"]
                                          for s in result["comparisons"])
    assert result["comparisons"][-1]["total"] == pytest.approx(total, abs=0.01)
    assert result["weight"] == pytest.approx(total, abs=0.01)
    assert result["decision"] == "auto_merge" and result["probability"] >= 0.95
    assert {s["comparison"] for s in result["comparisons"] if s["tf_bits"]} <= {
        "first_name", "last_name", "date_of_birth"}
    # the twin: held at the review threshold by the household guard
    code, out = _cli(config, "explain", "crm:1", "shop:s2", "--json", "--html",
                     str(tmp_path / "twin.html"))
    twin = json.loads(out)
    assert twin["household_guard"] and twin["decision"] != "auto_merge"
    page = (tmp_path / "twin.html").read_text(encoding="utf-8")
    assert "<svg" in page and "Evidence for a match" in page and "first_name" in page
    assert not [v for v in VALUES if v in page]


def test_explain_golden_ids_and_the_table(
        deployment: tuple[Path, dict[tuple[str, str], str]]) -> None:
    config, xrefs = deployment
    anna, twin = xrefs[("crm", "1")], xrefs[("shop", "s2")]
    assert anna != twin
    code, out = _cli(config, "explain", anna, twin)
    assert code == 0, out
    assert "prior" in out and "█" in out and "auto_merge" in out and "first_name" in out
    assert not [v for v in VALUES if v in out]
    code, out = _cli(config, "explain", "crm:999", anna)
    assert code == 1 and "crm:999: no source record" in out
    code, out = _cli(config, "explain", "C-999999", anna)
    assert code == 1 and "C-999999: no golden record" in out


def test_blocking_report_from_files(tmp_path: Path) -> None:
    person_data.write(person_data.linkage(1500, seed=11), tmp_path)
    files = [str(tmp_path / "A.csv"), str(tmp_path / "B.csv")]
    result = runner.invoke(app, ["matching", "blocking", *files, "--link", "--truth",
                                 str(tmp_path / "truth.csv"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [r["rule"] for r in report["rules"]] == [fb.rule(r).name for r in fs_model.BLOCKING_RULES]
    assert report["recall"] > 0.95 and report["recall_from"] == "known pairs"
    assert report["pairs"] < report["possible_pairs"] / 100
    result = runner.invoke(app, ["matching", "blocking", *files, "--link", "--block",
                                 "soundex(last_name)+year(date_of_birth)", "--block", "email"])
    assert result.exit_code == 0, result.output
    assert "soundex(" in result.output and "pairs scored of" in result.output
    result = runner.invoke(app, ["matching", "blocking", *files, "--block", "upper(city)"])
    assert result.exit_code == 1 and "unknown function 'upper'" in result.output


def test_model_settings_from_kontor_yaml(tmp_path: Path) -> None:
    settings = """
matching:
  customer:
    model:
      compare: {customer_number: {}}
      blocking: [dob_initials, ["first(last_name, 3)", year(date_of_birth)]]
      term_frequencies: [last_name]
"""
    config = write_deployment(tmp_path, system("crm", resource="A.csv") +
                              system("shop", resource="B.csv"), settings,
                              {"crm": person_data.MAPPING + "  customer_number: id\n",
                               "shop": person_data.MAPPING + "  customer_number: id\n"})
    person_data.write(person_data.linkage(1200, seed=11), tmp_path / "data")
    hub = open_hub(config)
    try:
        run_sync(hub.deployment, hub.engine)
    finally:
        hub.close()
    code, out = _cli(config, "train", "--link", "--json")
    assert code == 0, out
    model = fs_model.Model.load(fs_model.model_path(tmp_path, "customer"))
    custom = model.to_dict()["custom_comparisons"]
    assert custom == {"customer_number": {"field": "customer_number", "kind": "exact",
                                          "thresholds": []}}  # user.unique_id: exact
    assert model.blocking == ("dob_initials", ("first(last_name, 3)", "year(date_of_birth)"))
    assert model.tf is not None and set(model.tf.tables) == {"last_name"}
    bad = settings.replace('"first(last_name, 3)"', "upper(last_name)")
    config.write_text(config.read_text(encoding="utf-8").replace(settings, bad),
                      encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        open_hub(config)
    text = str(caught.value.problems)
    assert "matching.customer.model" in text and "unknown function 'upper'" in text
    config.write_text(config.read_text(encoding="utf-8").replace(
        "upper(last_name)", "first(last_name, 3)"), encoding="utf-8")
    with pytest.raises(ConfigError, match="quote a part with a comma"):
        open_hub(config)
    config.write_text(config.read_text(encoding="utf-8").replace(
        "first(last_name, 3)", '"first(last_name, 3)"').replace("customer_number", "shoe_size"),
        encoding="utf-8")
    with pytest.raises(ConfigError, match=r"kontor.yaml:\d+: matching.customer.model.compare"
                                          r".shoe_size: unknown field 'shoe_size'"):
        open_hub(config)
