"""The harness protocol: what a connector author tells the conformance kit.

A harness knows one connector and its real peer (a folder, a database, a server): how
to configure the connector, and how to put records into the peer and look at them *by
the peer's own means*, so that the kit never checks a connector against itself.

The kit's test records have a key field and two text fields (``name``, ``note``; rename
them with ``key_field`` and ``text_fields``). ``note`` must take null, empty, very long
and multi-line values where the format can. Declare what the format cannot do with the
traits below; the kit then leaves those checks out (they are not reported as skipped:
they do not apply).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from connectors.base import Capability, Connector, Record, StreamSpec

F = TypeVar("F", bound=Callable[..., Any])

#: Trait names a check may need (beside the connector's ``Capability`` values).
NULLS = "null_distinct"  # the format keeps a null apart from an empty string
MULTILINE = "multiline"  # values may hold line breaks
REJECTS = "can_reject"  # the peer refuses some records: see ``Harness.rejected_record``
UNCHANGED = "detects_unchanged"  # re-reading from the last cursor of an unchanged source
SECRETS = "secrets"  # the settings carry secrets (SecretStr fields)


def needs(*requirements: Capability | str) -> Callable[[F], F]:
    """Mark a check as applying only when all ``requirements`` are offered."""
    def mark(check: F) -> F:
        check._kontor_needs = frozenset(  # type: ignore[attr-defined]
            r.value if isinstance(r, Capability) else r for r in requirements)
        return check
    return mark


class Harness(abc.ABC):
    """Drives one connector against its real peer for the conformance kit.

    Subclass it, set ``connector_class`` and the traits, implement the abstract methods.
    The default ``__init__`` takes the test's temp folder; a harness needing other
    fixtures (a database, a server) is built by a ``kontor_harness`` fixture instead.
    """

    connector_class: ClassVar[type[Connector]]
    #: Capabilities this harness exercises; None = all the connector declares. Narrow
    #: it for a read-only stream mode (e.g. a drop folder), never widen it.
    capabilities: ClassVar[frozenset[Capability] | None] = None
    key_field: ClassVar[str] = "id"
    text_fields: ClassVar[tuple[str, str]] = ("name", "note")
    #: The format keeps a null apart from an empty string (CSV cannot).
    null_distinct: ClassVar[bool] = True
    #: Values may hold line breaks (fixed-width cannot).
    multiline: ClassVar[bool] = True
    #: The peer refuses some records: ``rejected_record`` gives one.
    can_reject: ClassVar[bool] = False
    #: None: the same as ``Capability.INCREMENTAL``; True for content-hash cursors.
    detects_unchanged: ClassVar[bool | None] = None
    #: Does ``bad_settings()`` set a secret (a SecretStr field)? The kit swaps in a canary
    #: and checks it is never shown. None: whenever the settings model has such fields.
    uses_secrets: ClassVar[bool | None] = None
    #: Length of the "very long value" the kit writes and reads.
    long_value: ClassVar[int] = 100_000
    system: ClassVar[str] = "conformance"

    def __init__(self, base_dir: Path):
        self.base_dir = base_dir

    # -- what the author implements ------------------------------------------------------

    @abc.abstractmethod
    def settings(self) -> dict[str, Any]:
        """Settings for a working connection, as in kontor.yaml with secrets resolved."""

    @abc.abstractmethod
    def bad_settings(self) -> dict[str, Any]:
        """Settings that validate but that ``check()`` must refuse (wrong password,
        missing folder, unknown host)."""

    def invalid_settings(self) -> list[dict[str, Any]]:
        """Settings that must not validate (the kit also always tries an unknown key)."""
        return []

    @abc.abstractmethod
    def stream(self, *, incremental: bool = False) -> StreamSpec:
        """The stream the kit uses, keyed by ``key_field``; ``incremental=True`` sets
        the cursor field that ``cursor_value`` fills."""

    @abc.abstractmethod
    def seed(self, records: list[Record]) -> None:
        """Make the peer hold exactly ``records`` (replacing all it held), by its own means."""

    def contents(self) -> list[Record]:
        """Every record the peer holds, by its own means (needed for WRITE and DELETE)."""
        raise NotImplementedError(f"{type(self).__name__} must implement contents()")

    def record(self, key: str, name: str | None, note: str | None,
               cursor: Any = None) -> Record:
        """A test record; override to add fields the peer requires."""
        first, second = self.text_fields
        out: Record = {self.key_field: key, first: name, second: note}
        spec = self.stream(incremental=True) if cursor is not None else None
        if spec is not None and spec.cursor_field:
            out[spec.cursor_field] = cursor
        return out

    def cursor_value(self, step: int) -> Any:
        """A cursor-field value that grows with ``step`` (for INCREMENTAL)."""
        raise NotImplementedError(f"{type(self).__name__} must implement cursor_value()")

    def cursor_order(self, cursor: Any) -> Any:
        """Makes cursors comparable (``<``); the default compares them as they are."""
        return cursor

    def rejected_record(self, key: str) -> Record:
        """A record the peer refuses (for ``can_reject``); its text values must not
        appear in the rejection's message."""
        raise NotImplementedError(f"{type(self).__name__} must implement rejected_record()")

    def close(self) -> None:
        """Release what the harness holds (connections, servers)."""

    # -- used by the kit -----------------------------------------------------------------

    def connector(self, settings: dict[str, Any] | None = None) -> Connector:
        """The connector, built the way the hub builds it (validated settings model)."""
        cls = self.connector_class
        model = cls.settings_model.model_validate(self.settings() if settings is None
                                                  else settings)
        return cls(model, system=self.system, base_dir=self.base_dir)

    @classmethod
    def offered(cls) -> frozenset[str]:
        """Capability values and trait names this harness offers, for selecting checks."""
        declared = cls.connector_class.capabilities
        caps = declared if cls.capabilities is None else cls.capabilities
        if not caps <= declared:
            raise TypeError(f"{cls.__name__}.capabilities claims more than "
                            f"{cls.connector_class.__name__} declares")
        unchanged = Capability.INCREMENTAL in caps if cls.detects_unchanged is None \
            else cls.detects_unchanged
        traits = {NULLS: cls.null_distinct, MULTILINE: cls.multiline,
                  REJECTS: cls.can_reject, UNCHANGED: unchanged,
                  SECRETS: bool(cls.connector_class.settings_model.secret_fields())
                  if cls.uses_secrets is None else cls.uses_secrets}
        return frozenset({c.value for c in caps} | {t for t, on in traits.items() if on})

