"""What the REST and SCIM connectors share: one lazily built :class:`HttpClient`."""

from __future__ import annotations

from pathlib import Path

from connectors.base import Connector, ConnectorSettings
from connectors.rest.http import HttpClient


class ApiConnector(Connector):
    """A connector for one HTTP API; the client (session, auth) is built on first use,
    so construction stays cheap and offline."""

    def __init__(self, settings: ConnectorSettings, *, system: str, base_dir: Path):
        super().__init__(settings, system=system, base_dir=base_dir)
        self._client: HttpClient | None = None

    def new_client(self) -> HttpClient:
        """The configured client; called once, on first use."""
        raise NotImplementedError

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            self._client = self.new_client()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
