"""SQL deletes against real SQLite, PostgreSQL and MariaDB: by key, set-based, per-key refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from connectors.base import StreamSpec
from connectors.sql import SqlConnector, SqlSettings

if TYPE_CHECKING:
    from conftest import Database  # the fixture's type; pytest provides the value


def test_a_key_still_referenced_is_refused_alone(database: Database,
                                                 make_table: Callable[..., sa.Table]) -> None:
    parent = make_table(sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                        sa.Column("name", sa.String(50)))
    child = make_table(sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                       sa.Column("parent_id", sa.Integer, sa.ForeignKey(parent.c.id)))
    try:
        with database.engine.begin() as conn:
            conn.execute(parent.insert(), [{"id": i, "name": f"p{i}"} for i in (1, 2, 3)])
            conn.execute(child.insert(), [{"id": 1, "parent_id": 2}])
        spec = StreamSpec(parent.name, ("id",))
        with SqlConnector(SqlSettings(url=database.url), system="erp",
                          base_dir=database.base_dir) as conn:
            result = conn.delete(spec, [(1,), "2", (3,), (None,)])
            left = sorted(r.data["id"] for b in conn.read(spec) for r in b.records)
        refused = dict(result.rejected)
        assert "#4" in refused  # a null key is refused before anything is sent
        if database.name == "sqlite":  # SQLite enforces foreign keys only when asked to
            assert result.written == 3 and left == []
            return
        assert result.written == 2 and left == [2]
        assert sorted(refused) == ["#4", "2"]
        problem = refused["2"]
        assert "foreign key" in problem.reason
        assert problem.location == f"{parent.name}:delete key 2"
    finally:
        child.drop(database.engine)
