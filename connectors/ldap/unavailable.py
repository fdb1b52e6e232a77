"""The LDAP connector's stand-in when ldap3 (the ``ldap`` extra) is not installed.

Its settings still validate, so a deployment with an LDAP system loads and ``kontor
check`` reads it; using the system fails in one line that says what to install, instead
of the connector plugin failing to load with a warning on every command.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from connectors.base import Capability, Connector, ConnectorSettings, ReadBatch, StreamSpec
from connectors.ldap.settings import CAPABILITIES, LdapSettings
from hub.errors import FatalConnectorError, missing_extra


class LdapConnector(Connector):
    """Declares what the real connector does; constructing it names the missing extra."""

    kind: ClassVar[str] = "ldap"
    settings_model: ClassVar[type[ConnectorSettings]] = LdapSettings
    capabilities: ClassVar[frozenset[Capability]] = CAPABILITIES
    #: The ImportError that put this stand-in in place (set by ``connectors.ldap``).
    missing: ClassVar[ImportError] = ModuleNotFoundError("No module named 'ldap3'",
                                                         name="ldap3")

    def __init__(self, settings: ConnectorSettings, *, system: str, base_dir: Path):
        super().__init__(settings, system=system, base_dir=base_dir)
        self._unavailable()

    def _unavailable(self) -> NoReturn:
        raise FatalConnectorError(
            f"{self.system}: " + missing_extra("the LDAP connector", self.missing, "ldap3"))

    def check(self) -> None:
        self._unavailable()

    def read(self, stream: StreamSpec, *, since: Any = None, batch_size: int = 5000
             ) -> Iterator[ReadBatch]:
        self._unavailable()
