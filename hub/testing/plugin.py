"""pytest plugin (entry point ``pytest11: kontor``): installed with kontor, active everywhere.

It marks every conformance check ``kontor_conformance`` (run only those with
``pytest -m kontor_conformance``) and, with ``-v``, lists per connector which checks do not
apply. It never turns a check into a skip.
"""

from __future__ import annotations

import pytest

MARK = "kontor_conformance"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARK}: a check of the Kontor connector conformance kit")


def _suite(item: pytest.Item) -> type | None:
    from hub.testing.kit import ConnectorConformance  # lazily: most sessions never need it

    cls = getattr(item, "cls", None)
    return cls if isinstance(cls, type) and issubclass(cls, ConnectorConformance) else None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    suites: dict[str, tuple[str, ...]] = {}
    for item in items:
        suite = _suite(item)
        if suite is not None:
            item.add_marker(MARK)
            suites[suite.__qualname__] = getattr(suite, "not_applicable", ())
    config.stash[_SUITES] = suites


_SUITES = pytest.StashKey[dict[str, tuple[str, ...]]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int,
                            config: pytest.Config) -> None:
    suites = config.stash.get(_SUITES, {})
    if not suites or config.get_verbosity() < 1:
        return
    terminalreporter.section("kontor connector conformance")
    for name, left_out in sorted(suites.items()):
        lines = ", ".join(c.removeprefix("test_") for c in left_out) or "none"
        terminalreporter.write_line(f"{name}: not applicable to this connector: {lines}")
