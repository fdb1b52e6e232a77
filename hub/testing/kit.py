"""``ConnectorConformance``: the conformance suite a connector's test file subclasses.

```python
from hub.testing import ConnectorConformance, Harness

class TestMyConnector(ConnectorConformance):
    harness = MyHarness      # a Harness subclass; its connector's capabilities pick the checks
```
Checks that do not apply (a read-only connector is not asked to write) are removed from
the class when it is defined, so pytest never collects them: they are not "skipped",
they do not exist for that connector. ``not_applicable`` lists them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from connectors.base import Connector
from hub.testing.checks_read import IncrementalChecks, ReadChecks
from hub.testing.checks_settings import SettingsChecks
from hub.testing.checks_write import DeleteChecks, WriteChecks
from hub.testing.harness import Harness


class ConnectorConformance(SettingsChecks, ReadChecks, IncrementalChecks, WriteChecks,
                           DeleteChecks):
    """Every check of the kit; a subclass sets ``harness`` and gets the ones that apply."""

    harness: ClassVar[type[Harness]]
    #: Checks left out for this connector (capability or trait missing), by name.
    not_applicable: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        harness = getattr(cls, "harness", None)
        if harness is None:
            return  # an intermediate base class without a harness yet
        offered = harness.offered()
        left_out = []
        for name in dir(cls):
            check = getattr(cls, name, None)
            wanted: frozenset[str] = getattr(check, "_kontor_needs", frozenset())
            if name.startswith("test_") and not wanted <= offered:
                setattr(cls, name, None)  # pytest collects only callables
                left_out.append(name)
        cls.not_applicable = tuple(sorted(set(cls.not_applicable) | set(left_out)))

    @pytest.fixture
    def kontor_harness(self, tmp_path: Path) -> Iterator[Harness]:
        """The harness for one check; override this fixture when it needs more than a
        temp folder (a database, a server)."""
        harness = self.harness(tmp_path)
        try:
            yield harness
        finally:
            harness.close()

    @pytest.fixture
    def kontor_connector(self, kontor_harness: Harness) -> Iterator[Connector]:
        """The connector under test, built from the harness's settings; closed afterwards."""
        connector = kontor_harness.connector()
        try:
            yield connector
        finally:
            connector.close()
