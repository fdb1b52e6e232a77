"""A CSV target checks a batch at once (encoding, NUL bytes, formula-like text) and falls
back to record by record only when something is wrong: the file and the refusals are the
same as when every record is written on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.base import StreamSpec
from connectors.csv.connector import CsvConnector
from connectors.csv.settings import CsvSettings

SPEC = StreamSpec(resource="people.csv", key=("number",))


def _connector(folder: Path, **settings: Any) -> CsvConnector:
    folder.mkdir()
    return CsvConnector(CsvSettings(directory=str(folder), **settings), system="crm",
                        base_dir=folder)


def _records(bad: list[dict[str, Any]]) -> list[dict[str, Any]]:
    good = [{"number": f"N-{i}", "name": f"Name {i}", "balance": i * 1.5, "active": i % 2 == 0,
             "note": None} for i in range(6)]
    return good[:3] + bad + good[3:]


BATCHES = {
    "clean": [],
    "formulas": [{"number": "N-f1", "name": "=HYPERLINK(\"x\")", "balance": -5, "active": True,
                  "note": "+1"},
                 {"number": "@N-f2", "name": "a\x1f=b", "balance": 0, "active": False,
                  "note": "-x"}],
    "refused": [{"number": "N-nul", "name": "a\x00b", "balance": 1, "active": True,
                 "note": ""},
                {"number": "", "name": "no key", "balance": 1, "active": True, "note": ""},
                {"number": "N-€", "name": "Euro €", "balance": 1, "active": True, "note": ""}],
}


@pytest.mark.parametrize("case", sorted(BATCHES))
@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_a_batch_writes_and_refuses_as_its_records_one_by_one(
        tmp_path: Path, case: str, encoding: str) -> None:
    records = _records(BATCHES[case])
    batch = _connector(tmp_path / "batch", encoding=encoding)
    result = batch.write(SPEC, records)
    single = _connector(tmp_path / "single", encoding=encoding)
    refused: list[tuple[str, str, str | None]] = []
    written = 0
    for index, record in enumerate(records, start=1):
        one = single.write(SPEC, [record])
        written += one.written
        for _key, problem in one.rejected:
            location = (problem.location or "").replace("batch record 1", f"batch record {index}")
            refused.append((location, problem.reason, problem.field))
    assert result.written == written
    assert [(p.location, p.reason, p.field) for _k, p in result.rejected] == refused
    expected = (tmp_path / "single" / "people.csv").read_bytes()
    assert (tmp_path / "batch" / "people.csv").read_bytes() == expected
    if case == "refused":
        reasons = {r for _l, r, _f in refused}
        assert "contains a NUL byte" in reasons and "key field is missing or empty" in reasons
        assert any("cannot be encoded" in r for r in reasons) == (encoding == "latin-1")
    if case == "formulas":
        assert b"'=HYPERLINK" in expected and b"'@N-f2" in expected
        assert b"a\x1f=b" in expected  # not at the start of its cell: left as it is
