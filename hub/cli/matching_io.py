"""Reading what ``kontor matching`` learns from and measures against: CSV files of
records, CSV files of known pairs, the store's source records, and the training settings
(kontor.yaml's ``matching.<entity>.model`` or the command line's options)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import typer

from hub.cli.output import fail, open_hub_or_fail


def read_records(files: list[Path], key: str
                 ) -> tuple[list[str], list[dict[str, str]], list[str]]:
    """(keys, values, source per record); a key must be unique over all files."""
    keys: list[str] = []
    rows: list[dict[str, str]] = []
    sources: list[str] = []
    seen: dict[str, tuple[Path, int]] = {}
    for path in files:
        try:
            with path.open(newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames is None or key not in reader.fieldnames:
                    fail(f"{path}: line 1: no key column {key!r} in the header (use --key)")
                for row in reader:
                    line = reader.line_num
                    k = (row.get(key) or "").strip()
                    if not k:
                        fail(f"{path}: line {line}: column {key!r}: empty key")
                    if k in seen:
                        first = seen[k]
                        fail(f"{path}: line {line}: column {key!r}: the same key as "
                             f"{first[0]} line {first[1]}")
                    seen[k] = (path, line)
                    keys.append(k)
                    rows.append({c: v for c, v in row.items() if c is not None and v})
                    sources.append(str(path))
        except OSError as exc:
            fail(f"{path}: {exc.strerror or exc}")
        except (UnicodeDecodeError, csv.Error) as exc:
            fail(f"{path}: not a readable UTF-8 CSV file ({type(exc).__name__})")
    if not keys:
        fail("no records in the files given")
    return keys, rows, sources


def read_pairs(path: Path, known: set[str]) -> list[tuple[str, str]]:
    """Known same-entity pairs: the first two columns of each line after the header."""
    pairs: list[tuple[str, str]] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            next(reader, None)
            for row in reader:
                if not row:
                    continue
                if len(row) < 2:
                    fail(f"{path}: line {reader.line_num}: two keys expected")
                a, b = row[0].strip(), row[1].strip()
                for column, k in ((1, a), (2, b)):
                    if k not in known:
                        fail(f"{path}: line {reader.line_num}, column {column}: a key that "
                             "is in none of the record files")
                pairs.append((a, b))
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}")
    return pairs


def store_records(ctx: typer.Context, entity: str
                  ) -> tuple[list[str], list[dict[str, Any]], list[str], Path, dict[str, Any]]:
    """(keys, values, systems, deployment folder, training settings) of the store's live
    source records; the settings from ``matching.<entity>.model`` of kontor.yaml."""
    from hub.matching import training

    hub = open_hub_or_fail(ctx)
    settings = training.model_settings(hub.deployment, entity)
    try:
        with hub.engine.connect() as conn:
            found = training.stored_records(conn, entity)
    finally:
        hub.close()
    if not found.keys:
        fail(f"no {entity} records in the store to learn from: run a sync first, or give "
             "CSV files")
    return found.keys, found.values, found.systems, hub.deployment.base_dir, settings


def option_settings(compare: list[str], block: list[str], no_tf: bool) -> dict[str, Any]:
    """``fs_model.train`` keywords from the command line (training from files)."""
    from hub.matching import fs_blocking, fs_fields

    out: dict[str, Any] = {}
    try:
        out["comparisons"] = [fs_fields.comparison(c.partition(":")[0],
                                                   c.partition(":")[2] or None)
                              for c in compare]
        if block:
            out["blocking"] = [fs_blocking.rule(
                r if r in fs_blocking.BLOCKING else [p.strip() for p in r.split("+")]).spec
                for r in block]
    except ValueError as exc:
        fail(f"--compare/--block: {exc}")
    if no_tf:
        out["term_frequencies"] = ()
    return out
