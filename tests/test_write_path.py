"""One write path: nothing changes a golden table except ``hub.golden.writer.GoldenWriter``.

The suite-wide guard in tests/conftest.py fails any such statement made outside it; this
file shows that the guard really bites, and that no module outside the golden layer
reaches for the store's low-level golden writes.
"""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import insert

from hub.canonical import Customer
from hub.store import bulk
from hub.store.db import make_engine
from hub.store.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
LOW_LEVEL = {("goldens", "write"), ("bulk", "update_goldens")}


def test_the_guard_refuses_a_golden_write_outside_the_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(AssertionError, match="outside hub.golden.writer"), \
            engine.begin() as conn:
        conn.execute(insert(bulk.table_of(Customer)).values(
            id="C-1", version=1, created_at=now, updated_at=now, custom={}, provenance={}))
    engine.dispose()


def test_only_the_golden_layer_calls_the_low_level_golden_writes() -> None:
    callers = []
    for path in sorted((ROOT / "hub").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("hub/golden/", "hub/store/")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    (node.value.id, node.attr) in LOW_LEVEL:
                callers.append(f"{rel}:{node.lineno} {node.value.id}.{node.attr}")
    assert not callers, "golden rows written around GoldenWriter: " + ", ".join(callers)
