"""The conformance kit itself: picked by capability, never skipping, and able to fail.

The kit runs here the way a third-party author runs it: pytest in a fresh process on a
folder holding only their test file, the plugin coming from kontor's pytest11 entry point.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

from connectors.base import Connector
from hub.testing import ConnectorConformance, checks_read, checks_settings, checks_write

ROOT = Path(__file__).resolve().parents[2]

AUTHOR_FILE = '''
from typing import ClassVar
from connectors.base import Capability
from hub.testing import ConnectorConformance
from tests.connectors.test_conformance_example import JsonLinesHarness

class ReadOnlyHarness(JsonLinesHarness):
    capabilities = frozenset({Capability.READ})

class TestFull(ConnectorConformance):
    harness = JsonLinesHarness

class TestReadOnly(ConnectorConformance):
    harness = ReadOnlyHarness
'''

BROKEN_FILE = '''
from hub.testing.example import JsonLinesConnector
from tests.connectors.test_conformance_example import JsonLinesHarness
from hub.testing import ConnectorConformance

class Appends(JsonLinesConnector):
    """Writes by appending: not an upsert, so re-sending a batch duplicates it."""
    def write(self, stream, records):
        path = self._path(stream.resource)
        with open(path, "a", encoding="utf-8") as fh:
            fh.writelines(__import__("json").dumps(r) + "\\n" for r in records)
        from connectors.base import WriteResult
        return WriteResult(written=len(records))

    def check(self):
        pass  # never notices bad settings

class AppendsHarness(JsonLinesHarness):
    connector_class = Appends
    can_reject = False

class TestBroken(ConnectorConformance):
    harness = AppendsHarness
'''


def run_pytest(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_author.py").write_text(source, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "-rA", "--strict-markers", "test_author.py", *args],
                          check=False, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


def test_an_authors_file_runs_only_what_applies_and_skips_nothing(tmp_path: Path) -> None:
    run = run_pytest(tmp_path, AUTHOR_FILE, "-m", "kontor_conformance")
    assert run.returncode == 0, run.stdout + run.stderr
    summary = run.stdout.strip().splitlines()[-1]
    assert "skipped" not in run.stdout.lower() and "deselected" not in summary
    full = run.stdout.count("PASSED test_author.py::TestFull::")
    read_only = run.stdout.count("PASSED test_author.py::TestReadOnly::")
    assert full > read_only > 0
    assert "TestReadOnly::test_write_lands_in_the_peer" not in run.stdout
    assert "TestReadOnly::test_empty_source" in run.stdout


def test_the_kit_fails_a_connector_that_breaks_the_contract(tmp_path: Path) -> None:
    run = run_pytest(tmp_path, BROKEN_FILE)
    assert run.returncode == 1
    failed = {line.split("::")[-1].split(" ")[0] for line in run.stdout.splitlines()
              if line.startswith("FAILED")}
    assert {"test_rewriting_a_batch_is_idempotent", "test_write_updates_by_key",
            "test_check_fails_clearly_with_bad_settings"} <= failed


def test_checks_are_chosen_when_the_class_is_defined() -> None:
    from tests.connectors.test_conformance_xml import TestXmlOverHttpConformance

    assert TestXmlOverHttpConformance.test_write_lands_in_the_peer is None  # type: ignore[comparison-overlap]
    assert "test_delete_is_idempotent" in TestXmlOverHttpConformance.not_applicable
    assert callable(TestXmlOverHttpConformance.test_read_keeps_a_very_long_value)


def test_every_interface_method_is_documented_and_checked() -> None:
    """A method of the connector interface without a docstring or a kit check fails here."""
    kit_source = "".join(inspect.getsource(m) for m in (checks_settings, checks_read,
                                                        checks_write))
    public = [n for n, _ in inspect.getmembers(Connector, inspect.isfunction)
              if not n.startswith("_")]
    for name in public:
        assert inspect.getdoc(getattr(Connector, name)), f"Connector.{name} has no docstring"
    unchecked = [n for n in public if f".{n}(" not in kit_source
                 and n not in ("streams", "close")]  # listing is optional; close has a fixture
    assert unchecked == []
    assert "connector.close()" in inspect.getsource(ConnectorConformance)
