"""LDAP connector package; the hub loads :class:`LdapConnector` by entry point.

ldap3 comes with the ``ldap`` extra; without it a stand-in takes the connector's place
and says so when an LDAP system is used (``unavailable.py``).
"""

from connectors.ldap.settings import LdapSettings

try:
    from connectors.ldap.connector import LdapConnector
except ImportError as exc:
    if (exc.name or "").partition(".")[0] != "ldap3":
        raise
    from connectors.ldap import unavailable

    unavailable.LdapConnector.missing = exc
    LdapConnector = unavailable.LdapConnector  # type: ignore[assignment, misc]

__all__ = ["LdapConnector", "LdapSettings"]
