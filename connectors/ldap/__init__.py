"""LDAP connector package; the hub loads :class:`LdapConnector` by entry point."""

from connectors.ldap.connector import LdapConnector
from connectors.ldap.settings import LdapSettings

__all__ = ["LdapConnector", "LdapSettings"]
