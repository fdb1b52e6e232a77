"""The packaged example connector (``hub.testing.example``) passes the conformance kit.

The harness ships beside the connector, so the suite here is what docs/connectors.md
shows an author: two lines. The tests below it check the example's own behaviour that
the kit does not reach (a cut-off file, a record without a key), the public helpers of
``connectors.toolkit``, and that docs/connectors.md names only public API.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors import toolkit
from connectors.base import ConnectorSettings, StreamSpec
from connectors.toolkit import key_text, key_values, scrub_secrets
from hub.errors import FatalConnectorError
from hub.testing import ConnectorConformance
from hub.testing.example import JsonLinesConnector, JsonLinesHarness

__all__ = ["JsonLinesConnector", "JsonLinesHarness", "TestJsonLinesConformance"]


class TestJsonLinesConformance(ConnectorConformance):
    harness = JsonLinesHarness


@pytest.fixture
def harness(tmp_path: Path) -> JsonLinesHarness:
    return JsonLinesHarness(tmp_path)


def test_a_file_cut_off_mid_line_is_read_as_incomplete(harness: JsonLinesHarness) -> None:
    harness.file.write_text('{"id": "k1", "name": "a"}\n{"id": "k2", "na', encoding="utf-8")
    batches = list(harness.connector().read(harness.stream()))
    assert [r.data["id"] for b in batches for r in b.records] == ["k1"]
    [problem] = [p for b in batches for p in b.problems]
    assert problem.location == "people.jsonl:2" and "na" not in problem.describe()
    assert batches[-1].incomplete and "people.jsonl" in batches[-1].incomplete


def test_a_complete_file_is_not_incomplete(harness: JsonLinesHarness) -> None:
    harness.seed([{"id": "k1"}])
    assert [b.incomplete for b in harness.connector().read(harness.stream())] == [None]


def test_a_record_without_key_is_rejected_by_position(harness: JsonLinesHarness) -> None:
    harness.seed([])
    result = harness.connector().write(harness.stream(), [{"id": "k1"}, {"id": "", "name": "x"}])
    assert result.written == 1
    [(key, problem)] = result.rejected
    assert key == "#2" and "id" in problem.reason
    assert harness.contents() == [{"id": "k1"}]


def test_delete_of_a_key_text_with_wrong_arity_is_an_error(tmp_path: Path) -> None:
    harness = JsonLinesHarness(tmp_path)
    harness.seed([{"id": "k1", "site": "a"}])
    stream = StreamSpec("people.jsonl", ("id", "site"))
    connector = harness.connector()
    assert connector.delete(stream, ["k1|a"]).written == 1
    assert harness.contents() == []
    with pytest.raises(ValueError, match=r"2 key value\(s\) for \(id, site\)"):
        connector.delete(stream, [("k1",)])


def test_a_resource_outside_the_folder_is_refused(harness: JsonLinesHarness) -> None:
    with pytest.raises(FatalConnectorError, match="conformance: '../x.jsonl' is not a file"):
        list(harness.connector().read(StreamSpec("../x.jsonl", ("id",))))


def test_the_toolkit_names_keys_as_the_hub_does() -> None:
    assert key_text(("id", "site"), {"id": 7, "site": "a|b"}, 1) == "7|a|b"
    assert key_text(("id",), {"id": None}, 4) == "#4"
    assert key_values(("id", "site"), "7|a|b") == ("7", "a|b")
    assert key_values(("id",), "a|b") == ("a|b",)


class _Secretive(ConnectorSettings):
    url: str
    password: SecretStr | None = None
    token: SecretStr


def test_scrub_secrets_hides_every_secret_field() -> None:
    settings = _Secretive(url="db://h", password=SecretStr("pw-Zq8v"), token=SecretStr("tk-9x"))
    text = "login failed for db://h with pw-Zq8v (token tk-9x)"
    assert scrub_secrets(text, settings) == "login failed for db://h with *** (token ***)"
    unset = _Secretive(url="db://h", token=SecretStr(""))
    assert scrub_secrets("nothing to hide", unset) == "nothing to hide"


def test_the_wheel_ships_the_example_and_the_kit_data() -> None:
    """pyproject's package discovery and package data cover what an author runs."""
    root = Path(__file__).resolve().parents[2]
    setup = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"]
    from hub.testing import example

    assert Path(example.__file__).parent == root / "hub" / "testing"
    assert any(fnmatch("hub.testing", p) for p in setup["packages"]["find"]["include"])
    assert any(fnmatch("testing/fixtures/edge_values.json", p)
               for p in setup["package-data"]["hub"])
    assert (root / "connectors" / "py.typed").exists(), "authors type-check against kontor"


def test_without_pytest_the_kit_says_which_extra_to_install() -> None:
    code = "import sys; sys.modules['pytest'] = None; import hub.testing"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False, timeout=60)
    assert run.returncode == 1
    assert "needs pytest" in run.stderr and "kontor[testing]" in run.stderr


DOCS = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"


def _author_part() -> str:
    """docs/connectors.md up to the bundled connectors' own sections."""
    text = DOCS.read_text(encoding="utf-8")
    return text[:text.index("## Bundled file connectors")]


def test_the_docs_point_authors_only_at_public_names() -> None:
    """Every module or object the author part names imports, and none of it is private
    (the one sentence that says private modules are private excepted)."""
    text = "\n\n".join(paragraph for paragraph in _author_part().split("\n\n")
                       if "are private" not in paragraph)
    named = set(re.findall(r"`((?:connectors|hub)\.[\w.]+)", text))
    assert {"connectors.base", "connectors.toolkit", "hub.testing.example"} <= named
    for dotted in named:
        assert not any(p.startswith("_") for p in dotted.split(".")), dotted
        module, _, attr = dotted.rpartition(".")
        try:
            importlib.import_module(dotted)
        except ModuleNotFoundError:
            assert hasattr(importlib.import_module(module), attr), dotted


def test_the_docs_list_exactly_the_toolkit() -> None:
    helpers = _author_part().split("## Helpers: `connectors.toolkit`")[1].split("\n## ")[0]
    first_cells = [row.split(" | ")[0] for row in helpers.splitlines() if row.startswith("| `")]
    listed = {name for cell in first_cells for name in re.findall(r"`(\w+)\(", cell)}
    assert listed == set(toolkit.__all__)
