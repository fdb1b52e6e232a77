"""Exports a spreadsheet can open safely: no cell is read as a formula."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from connectors.base import neutralise_formula as neutralise
from hub.records import json_default


def _flat(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if isinstance(v, (dict, list)):
            v = json.dumps(v, default=json_default, ensure_ascii=False, sort_keys=True)
        out[k] = neutralise(v if not hasattr(v, "isoformat") else v.isoformat())
    return out


def write_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], path: Path) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(_flat(row))
            count += 1
    return count


def write_json(rows: Iterable[Mapping[str, Any]], path: Path) -> int:
    data = [{k: neutralise(v) if isinstance(v, str) else v for k, v in row.items()}
            for row in rows]
    path.write_text(json.dumps(data, default=json_default, ensure_ascii=False, indent=2),
                    encoding="utf-8")
    return len(data)
