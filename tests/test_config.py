"""kontor.yaml validation: every problem at once, with file, line and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub import config
from hub.errors import ConfigError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_starter_deployment_loads(starter: Path) -> None:
    deployment = config.load(starter)
    assert set(deployment.systems) == {"shop", "mailing"}
    assert deployment.database_url == f"sqlite:///{starter.parent / 'kontor.db'}"
    assert deployment.fields["customer"]["loyalty_tier"].custom


def test_every_problem_is_reported_at_once_with_line_and_path(starter: Path) -> None:
    text = starter.read_text(encoding="utf-8")
    text = text.replace("connector: csv\n    description", "connector: cvs\n    description")
    text = text.replace("batch_size: 5000", "batch_size: -1")
    text = text.replace("category: user.behavior.purchase_history", "category: user.purchases")
    _write(starter, text)
    with pytest.raises(ConfigError) as info:
        config.load(starter)
    # a shape problem (batch_size) does not hide the others: all three in one run
    problems = info.value.problems
    assert {p.path for p in problems} == {"batch_size", "systems.shop.connector",
                                          "custom_fields.customer.loyalty_tier.category"}
    assert all(str(starter) in p.file for p in problems)
    line = text.splitlines().index("batch_size: -1") + 1
    assert any(p.file.endswith(f":{line}") for p in problems)

    _write(starter, text.replace("batch_size: -1", "batch_size: 100"))
    with pytest.raises(ConfigError) as info:
        config.load(starter)
    messages = {p.path: p.message for p in info.value.problems}
    assert "unknown connector 'cvs'" in messages["systems.shop.connector"]
    assert "unknown data category 'user.purchases'" in \
        messages["custom_fields.customer.loyalty_tier.category"]
    assert len(info.value.problems) == 2


def test_unknown_key_and_duplicate_key(starter: Path) -> None:
    text = starter.read_text(encoding="utf-8")
    _write(starter, text.replace("batch_size: 5000", "batch_size: 5000\nbatchsize: 10"))
    with pytest.raises(ConfigError) as info:
        config.load(starter)
    assert [(p.path, p.message) for p in info.value.problems] == [("batchsize", "unknown key")]

    _write(starter, text.replace("batch_size: 5000", "batch_size: 5000\nbatch_size: 10"))
    with pytest.raises(ConfigError, match="duplicate key 'batch_size'"):
        config.load(starter)


def test_mapping_problems_name_the_mapping_file(starter: Path) -> None:
    mapping = starter.parent / "mappings" / "shop_customer.yaml"
    mapping.write_text(mapping.read_text(encoding="utf-8").replace(
        "  first_name: first_name", "  fist_name: first_name"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config.load(starter)
    (problem,) = info.value.problems
    assert problem.file.startswith(str(mapping)) and problem.path == "fields.fist_name"
    assert "unknown canonical field 'fist_name'" in problem.message


def test_literal_secret_is_refused_and_reference_is_resolved(
        tmp_path: Path, starter: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = starter.read_text(encoding="utf-8").replace("\nsystems:\n", """
systems:
  billing:
    connector: sql
    settings:
      url: postgresql+psycopg://reader@127.0.0.1/billing
      password: hunter2-literal
    streams:
      customers: {entity: customer, direction: inbound, resource: customers, key: [id],
                  mapping: mappings/shop_customer.yaml}
""")
    _write(starter, text)
    with pytest.raises(ConfigError) as info:
        config.load(starter)
    assert "must be references" in str(info.value)
    assert "hunter2-literal" not in str(info.value)

    _write(starter, text.replace("hunter2-literal", "${env:BILLING_PW}"))
    with pytest.raises(ConfigError, match="environment variable BILLING_PW is not set"):
        config.load(starter)

    monkeypatch.setenv("BILLING_PW", "s3cret-canary-value")
    deployment = config.load(starter)
    settings = deployment.systems["billing"].settings
    assert settings.password.get_secret_value() == "s3cret-canary-value"  # type: ignore[attr-defined]
    assert "s3cret-canary-value" not in repr(settings)
    assert "s3cret-canary-value" not in repr(deployment)


def test_database_url_from_environment_wins(starter: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    monkeypatch.setenv("KONTOR_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    assert config.load(starter).database_url == "postgresql://postgres@127.0.0.1/test"


def test_config_path_from_environment(starter: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KONTOR_CONFIG", str(starter))
    assert config.config_path() == starter
    assert config.config_path("other.yaml").name == "other.yaml"


def test_missing_file_and_broken_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        config.load(tmp_path / "nope.yaml")
    broken = _write(tmp_path / "kontor.yaml", "systems:\n  a: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML") as info:
        config.load(broken)
    assert info.value.problems[0].file.startswith(f"{broken}:")


def test_problems_in_kontor_yaml_mappings_and_policies_come_in_one_run(starter: Path) -> None:
    text = starter.read_text(encoding="utf-8")
    _write(starter, text.replace("batch_size: 5000", "batch_size: lots")
           .replace("direction: outbound", "direction: outwards"))
    mapping = starter.parent / "mappings" / "shop_customer.yaml"
    mapping.write_text(mapping.read_text(encoding="utf-8").replace(
        "  first_name: first_name", "  fist_name: first_name"), encoding="utf-8")
    policy = starter.parent / "policies" / "starter.yaml"
    policy.write_text(policy.read_text(encoding="utf-8") + "\nnot_a_policy_key: 1\n",
                      encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config.load(starter)
    files = {p.file.rsplit(":", 1)[0] for p in info.value.problems}
    assert files == {str(starter), str(mapping), str(policy)}
    paths = {p.path for p in info.value.problems}
    assert {"batch_size", "systems.mailing.streams.subscribers.direction",
            "fields.fist_name"} <= paths
    # the stream set aside is still a known destination: no follow-on problems
    assert not any("unknown" in p.message and "mailing" in p.message
                   for p in info.value.problems)


@pytest.mark.parametrize("text", ["", "\n  \n", "# only a comment\n# and another\n"])
def test_an_empty_kontor_yaml_says_so_and_nothing_else(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path / "kontor.yaml", text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    (problem,) = info.value.problems
    assert problem.message == ("kontor.yaml is empty: run `kontor init` for a commented "
                               "starter")


def test_unset_env_reference_is_reported_at_its_own_key(starter: Path) -> None:
    text = starter.read_text(encoding="utf-8").replace("\nsystems:\n", """
systems:
  billing:
    connector: sql
    settings:
      url: postgresql+psycopg://reader@127.0.0.1/billing
      password: ${env:KONTOR_TEST_UNSET_PW}
    streams:
      customers: {entity: customer, direction: inbound, resource: customers, key: [id],
                  mapping: mappings/shop_customer.yaml}
""")
    _write(starter, text)
    with pytest.raises(ConfigError) as info:
        config.load(starter)
    (problem,) = info.value.problems
    line = text.splitlines().index("      password: ${env:KONTOR_TEST_UNSET_PW}") + 1
    assert problem.path == "systems.billing.settings.password"
    assert problem.file == f"{starter}:{line}"
    assert "KONTOR_TEST_UNSET_PW" in problem.message
