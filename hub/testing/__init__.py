"""The connector conformance kit: one suite every connector passes against its real peer.

A connector's test file subclasses ``ConnectorConformance`` and names a ``Harness``;
checks are chosen by the connector's declared capabilities and the harness's traits.
See docs/connectors.md; ``hub.testing.example`` is a complete worked example. The kit
needs pytest (the ``testing`` extra); installing kontor also installs the pytest plugin
(``hub.testing.plugin``) that marks these checks ``kontor_conformance``.
"""

try:
    import pytest
except ModuleNotFoundError as missing:  # kontor installed without its testing extra
    raise ModuleNotFoundError("the connector conformance kit (hub.testing) needs pytest: "
                              "install kontor with its testing extra, kontor[testing]",
                              name=missing.name) from missing

# The checks' asserts should explain themselves like test-file asserts do.
pytest.register_assert_rewrite("hub.testing.checks_settings", "hub.testing.checks_read",
                               "hub.testing.checks_write")

# Imported after register_assert_rewrite on purpose.
from hub.testing.harness import (
    MULTILINE,
    NULLS,
    REJECTS,
    SECRETS,
    UNCHANGED,
    Harness,
    needs,
)
from hub.testing.kit import ConnectorConformance

__all__ = ["MULTILINE", "NULLS", "REJECTS", "SECRETS", "UNCHANGED", "ConnectorConformance",
           "Harness", "needs"]
