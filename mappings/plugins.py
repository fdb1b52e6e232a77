"""Python plug-in transforms, for what the YAML language cannot say.

A transform is a function ``(value, record) -> value``: inbound it receives the raw value
of its column and the whole source record; outbound the rendered value and the canonical
values being sent. It raises ``ValueError`` to refuse a value (the record goes to the
quarantine, naming the field and the transform, never the value).

A mapping names a transform either by a name registered in the ``kontor.transforms``
entry-point group (what a package of transforms does) or by a dotted path
``package.module:function`` to code of the deployment itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

from hub.errors import MappingError

Transform = Callable[[Any, Mapping[str, Any]], Any]
GROUP = "kontor.transforms"


class UnknownTransform(LookupError):
    """The transform named in a mapping cannot be found or loaded."""


@lru_cache(maxsize=1)
def registered() -> dict[str, Any]:
    """Transforms installed through the ``kontor.transforms`` entry-point group."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def resolve(name: str) -> Transform:
    """The function for ``name``; ``UnknownTransform`` saying why it is not usable."""
    target: Any
    if name in registered():
        try:
            target = registered()[name].load()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not crash loading
            raise UnknownTransform(f"transform {name!r} failed to load "
                                   f"({type(exc).__name__})") from None
    elif ":" in name or "." in name:
        module_name, _, attr = name.partition(":") if ":" in name else name.rpartition(".")
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError):
            raise UnknownTransform(f"unknown transform {name!r}: no {attr!r} in module "
                                   f"{module_name!r}") from None
    else:
        known = ", ".join(sorted(registered())) or "none installed"
        raise UnknownTransform(f"unknown transform {name!r}; registered: {known} "
                               "(or give a dotted path module:function)")
    if not callable(target):
        raise UnknownTransform(f"transform {name!r} is not a function")
    return target  # type: ignore[no-any-return]


def guarded(name: str, fn: Transform) -> Transform:
    """``fn`` with its refusals turned into a ``MappingError`` that names the transform."""
    def call(value: Any, record: Mapping[str, Any]) -> Any:
        try:
            return fn(value, record)
        except MappingError:
            raise
        except (ValueError, TypeError, KeyError):
            raise MappingError(f"transform {name!r} refused the value") from None
    return call
