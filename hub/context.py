"""Open a deployment and its master store: what every command and the API start from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from hub import config
from hub.audit import changes
from hub.store.db import check_keyring_opens, make_engine
from hub.store.health import is_store_failure, store_unavailable
from hub.store.migrate import upgrade
from hub.store.sealing import Sealer


@dataclass
class Hub:
    deployment: config.Deployment
    engine: Engine
    sealer: Sealer

    def close(self) -> None:
        self.engine.dispose()


def open_hub(config_file: str | Path | None = None, *, migrate: bool = True) -> Hub:
    """Load and validate the deployment, connect the store, bring its schema up to date."""
    deployment = config.load(config_file)
    keyring = deployment.keyring()  # fails early, in plain words, when the key is missing
    engine = make_engine(deployment.database_url)
    sealer = Sealer(keyring, deployment.fields)
    try:
        if migrate:
            upgrade(engine)
        # Another deployment's keyring would seal new records under keys the real one
        # cannot open: refuse before anything is read or written.
        check_keyring_opens(engine, sealer.envelope)
        if migrate:
            changes.record_if_changed(engine, deployment)  # config and policy edits audited
    except DBAPIError as exc:
        engine.dispose()
        if is_store_failure(exc):  # unreachable, read-only, full: one plain line
            raise store_unavailable(exc, deployment.database_url) from None
        raise
    except BaseException:
        engine.dispose()
        raise
    return Hub(deployment, engine, sealer)
