"""`kontor audit trace` for a person Kontor never knew: exit 1, "no such person"."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hub.cli.main import app
from hub.demo import write_demo

runner = CliRunner()


def test_trace_of_an_unknown_person_exits_1(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "d", customers=60, employees=12, seed=4)
    config = ["--config", str(demo.config)]
    assert runner.invoke(app, [*config, "sync"]).exit_code == 2
    unknown = runner.invoke(app, [*config, "audit", "trace", "--employee", "E-9999"])
    assert unknown.exit_code == 1 and "no such person: employee E-9999" in unknown.output
    as_json = runner.invoke(app, [*config, "audit", "trace", "--employee", "E-9999", "--json"])
    assert as_json.exit_code == 1
    known = runner.invoke(app, [*config, "audit", "trace", "--employee", "E-1001"])
    assert known.exit_code == 0 and "Trace of E-1001" in known.output
    assert "payroll" in known.output  # the table names where the data went
