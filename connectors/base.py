"""The connector interface: the one small surface a plugin implements.

A connector talks to one *kind* of system (CSV files, an SQL database, ...). The hub builds
one instance per configured system from the connector's typed settings model, then asks it
to ``check`` its connection, ``discover`` its streams, ``read`` a stream as batches, and
``write`` or ``delete`` batches. A connector declares in ``capabilities`` which of these it
offers; the hub and the conformance kit (``hub.testing``) ask for nothing else.

Connectors import nothing of the hub beyond this module and ``hub.errors``.
"""

from __future__ import annotations

import abc
import enum
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, SecretStr

from hub.errors import RecordProblem

#: A record as a system sees it: its own column names, values as read.
Record = dict[str, Any]

#: A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
#: (CSV injection, OWASP); a leading apostrophe makes it plain text again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def neutralise_formula(value: Any, *, keep_numbers: bool = False) -> Any:
    """``value`` with a leading ``'`` if a spreadsheet would run it as a formula.

    Shared by every writer of files meant for spreadsheets (the CSV connector, the audit
    export). ``keep_numbers``: a plain number (``-2.50``, ``+4930123456``, matching
    ``[+-]?\\d+([.,]\\d+)?``) stays as it is; a spreadsheet reads it as a number, not a
    formula. Anything but a string is returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not (
            keep_numbers and _PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return value


class Capability(str, enum.Enum):
    """What a connector can do; the hub and the conformance tests only ask for these."""

    READ = "read"  #: ``read`` a whole stream
    INCREMENTAL = "incremental"  #: ``read(since=cursor)`` returns only what changed since
    WRITE = "write"  #: ``write``: idempotent upsert by key
    DELETE = "delete"  #: ``delete`` by key
    DISCOVER = "discover"  #: ``discover`` streams, fields, types and keys


class ConnectorSettings(BaseModel):
    """Base for every connector's settings model.

    Unknown keys are errors (a typo must not silently fall back to a default). Secret
    values are ``pydantic.SecretStr`` fields and arrive already resolved from their
    ``${env:NAME}`` reference; they never appear in ``repr()``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def secret_fields(cls) -> list[str]:
        """Names of the fields typed ``SecretStr`` (or ``SecretStr | None``)."""
        return [name for name, info in cls.model_fields.items()
                if info.annotation in (SecretStr, SecretStr | None)]


@dataclass(frozen=True)
class StreamSpec:
    """One stream of a system: a file, a table, an endpoint.

    ``resource`` is the connector's own name for it (file name, table name); ``key`` the
    columns that identify a record in that system.
    """

    resource: str
    key: tuple[str, ...]
    #: Column holding the record's business update time, for incremental reads.
    cursor_field: str | None = None


@dataclass
class SourceRecord:
    """One record read from a system, with where it came from (for error messages)."""

    data: Record
    location: str


@dataclass
class ReadBatch:
    """A bounded slice of a stream.

    ``problems`` are the records of this slice that could not even be read (wrong column
    count, undecodable bytes); ``cursor`` is the position after this batch, committed by
    the hub in the same transaction as the batch's data.

    ``incomplete`` is set on the last batch a read yields when that read ended before the
    end of the stream: a fatal parse error, a file that stops in the middle of a line or
    element, a dropped connection that is not raised. It says why in plain words, naming
    the file or resource and the line (never a record value). Such a read is no snapshot
    of the source: the hub infers no deletes from it and does not report the run as a
    success. (Raising a ``ConnectorError`` instead fails the stream, which infers no
    deletes either.) Its ``cursor`` is the connector's choice: the file connectors keep
    the hash of the whole file, so the same broken file is not read again, a new one is.
    """

    records: list[SourceRecord] = field(default_factory=list)
    problems: list[RecordProblem] = field(default_factory=list)
    cursor: Any = None
    incomplete: str | None = None


@dataclass(frozen=True)
class ReadSize:
    """How much a read of a stream will go through, as far as a system can tell before the
    read (``Connector.estimate``): the 100% of a progress bar, for a percentage and an ETA."""

    total: int
    #: "records" (rows, entries), or "bytes" of a file: ``Connector.read_progress`` then
    #: tells how many bytes the read in progress has consumed.
    unit: str = "records"
    #: False when ``total`` is the system's estimate (table statistics), not a count.
    exact: bool = True


@dataclass
class WriteResult:
    """What a write did: how many records the target acknowledged, and which it refused."""

    written: int = 0
    rejected: list[tuple[str, RecordProblem]] = field(default_factory=list)


def key_text(key: Sequence[str], record: Record, index: int) -> str:
    """A record's key text: its ``key`` values joined by ``|``, as the hub names a record
    (in ``WriteResult.rejected``, in a delivered record's target key).

    ``#index`` (the record's position in its batch) when a key value is missing or empty.
    """
    if key and all(record.get(k) not in (None, "") for k in key):
        return "|".join(str(record[k]) for k in key)
    return f"#{index}"


def key_values(key: Sequence[str], given: str | Sequence[object]) -> tuple[str, ...]:
    """A key given to ``delete`` as a tuple of strings, whether given as text or as a tuple.

    Text is split on ``|`` only when the key has several fields, so a single-field key
    may itself contain ``|``. Raises ``ValueError`` when the number of values is wrong.
    """
    if isinstance(given, str):
        parts = given.split("|", len(key) - 1) if len(key) > 1 else [given]
    else:
        parts = [str(v) for v in given]
    if len(parts) != len(key):
        raise ValueError(f"expected {len(key)} key value(s) for ({', '.join(key)})")
    return tuple(parts)


class Connector(abc.ABC):
    """A plugin that talks to one kind of back-office system."""

    #: Short name used in kontor.yaml (``connector: csv``).
    kind: ClassVar[str]
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.READ})

    def __init__(self, settings: ConnectorSettings, *, system: str, base_dir: Path):
        """Keep settings; do not connect yet (construction must be cheap and offline).

        ``base_dir`` is the deployment folder; relative paths in settings resolve against it.
        """
        self.settings = settings
        self.system = system
        self.base_dir = base_dir

    @abc.abstractmethod
    def check(self) -> None:
        """Try the connection; raise ``FatalConnectorError`` naming what is wrong."""

    def streams(self) -> list[str]:
        """Resources this system offers (file names, table names), where it can tell."""
        return []

    @abc.abstractmethod
    def read(self, stream: StreamSpec, *, since: Any = None, batch_size: int = 5000
             ) -> Iterator[ReadBatch]:
        """Yield the stream as batches of at most ``batch_size`` records.

        Never load a whole source: memory stays bounded by the batch size. With ``since``
        (a cursor from an earlier batch), return only records changed after it. A bad
        record becomes a ``RecordProblem`` in its batch; the rest of the stream goes on.
        A read that cannot go on to the end of the stream says so in its last batch's
        ``incomplete``.
        """

    def discover(self, stream: StreamSpec | None = None) -> list[dict[str, Any]]:
        """Describe ``stream`` (or every stream) as the system declares it (``DISCOVER``).

        One dict per stream: ``{"resource": str, "fields": [{"name": str, "type": str}],
        "key": [str]}`` (``key`` when the system or ``stream`` names one). Field names are
        exactly the ones ``read`` returns. No values: sample values, where wanted, are read
        with ``read`` so that showing them stays the caller's explicit choice.
        """
        raise NotImplementedError(f"connector {self.kind!r} cannot discover")

    def write(self, stream: StreamSpec, records: list[Record]) -> WriteResult:
        """Upsert ``records`` by ``stream.key``; re-sending the same batch changes nothing.

        A record the target refuses goes to ``WriteResult.rejected`` under its key text
        (the key values joined by ``|``, or ``#n`` for the n-th record when it has no key);
        the rest of the batch is still written.
        """
        raise NotImplementedError(f"connector {self.kind!r} cannot write")

    def delete(self, stream: StreamSpec, keys: Sequence[str | Sequence[Any]]) -> WriteResult:
        """Remove the records whose ``stream.key`` values are ``keys`` (``DELETE``).

        A key is a tuple of values in the order of ``stream.key``, or its key text (the
        values joined by ``|``, as the hub stores a delivered record's target key; see
        ``key_values``). Idempotent: a key that is already absent counts
        as done, so re-sending a batch changes nothing. ``written`` counts the keys the
        target acknowledged; a key it refuses (e.g. still referenced) goes to ``rejected``
        under its key text, and the other keys are removed.
        """
        raise NotImplementedError(f"connector {self.kind!r} cannot delete")

    def estimate(self, stream: StreamSpec, *, since: Any = None) -> ReadSize | None:
        """How much ``read(stream, since=since)`` will go through (a file's size, a row
        count), if the system can tell cheaply without reading the stream; None when it
        cannot. Only progress bars use it: a wrong estimate costs a wrong percentage."""
        return None

    def read_progress(self, stream: StreamSpec) -> int | None:
        """How far the read of ``stream`` in progress has come, in the unit of ``estimate``
        when that unit is not "records" (bytes of a file consumed so far); else None."""
        return None

    def close(self) -> None:
        """Release connections and file handles."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} system={self.system!r}>"
