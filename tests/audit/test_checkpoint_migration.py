"""Migration 0007: checkpoints signed before the chain survive as legacy and still verify."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, text

from hub.audit import signing, verify
from hub.audit.chain import GENESIS
from hub.store.db import make_engine
from hub.store.migrate import alembic_config, upgrade
from policies import keys


def _to(engine: Engine, revision: str, *, down: bool = False) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def test_legacy_checkpoints_survive_the_migration(database_url: str, tmp_path: Path) -> None:
    keyring = keys.create(tmp_path / "keyring.json")
    private = signing._private(keyring)
    engine = make_engine(database_url)
    try:
        _to(engine, "0006_outbox")
        at = dt.datetime.now(dt.UTC)
        signature = base64.b64encode(private.sign(signing.message(0, GENESIS, at))).decode()
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO audit_checkpoint (seq, hash, at, key_id, signature) "
                              "VALUES (0, :h, :at, :k, :s)"),
                         {"h": GENESIS, "at": at, "k": signing.fingerprint(private.public_key()),
                          "s": signature})
        upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(text("SELECT n, prev FROM audit_checkpoint")).one()
        assert (row.n, row.prev) == (None, None)
        with engine.begin() as conn:
            first = signing.checkpoint(conn, keyring)
        assert first["n"] == 1 and first["prev"] != GENESIS
        report = verify.verify(engine, signing.public_keys(keyring))
        assert report.ok and report.checkpoints == 2, report.problem
        _to(engine, "0006_outbox", down=True)  # keeps every checkpoint row
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM audit_checkpoint")).scalar() == 2
    finally:
        engine.dispose()
