"""Find connectors through the ``kontor.connectors`` entry-point group.

Bundled connectors register there exactly like a third-party package would. A plugin that
fails to import is reported as a warning and left out; it never takes the hub down.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import entry_points

from connectors.base import Connector

GROUP = "kontor.connectors"
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, type[Connector]], dict[str, str]]:
    found: dict[str, type[Connector]] = {}
    broken: dict[str, str] = {}
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Connector)):
                raise TypeError(f"{ep.value} is not a Connector subclass")
        except Exception as exc:  # noqa: BLE001 - any plugin failure must stay contained
            broken[ep.name] = f"{type(exc).__name__}: {exc}"
            log.warning("connector plugin %r (%s) failed to load: %s", ep.name, ep.value, exc)
            continue
        found[ep.name] = cls
    return found, broken


def connectors() -> dict[str, type[Connector]]:
    """Installed connector classes by kind."""
    return dict(_load()[0])


def broken_connectors() -> dict[str, str]:
    """Plugins that failed to load, with the reason."""
    return dict(_load()[1])


def get(kind: str) -> type[Connector]:
    found = _load()[0]
    if kind not in found:
        raise KeyError(kind)
    return found[kind]
