"""One root for every error the hub raises, with families that tell the caller what to do.

Error messages name *where* (system, record, field, file, key path) and *what*; they never
carry a record's values, because a value may be restricted (promise 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class HubError(Exception):
    """Root of every Kontor error."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in the configuration: the file, the key path inside it, and what is wrong."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class ConfigError(HubError):
    """The configuration is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} configuration problem(s):\n{lines}")


@dataclass
class RecordProblem:
    """Where a bad record sits and why it was refused (never its values)."""

    reason: str
    system: str = ""
    stream: str = ""
    source_key: str | None = None
    location: str | None = None  # e.g. "customers.csv:17"
    field: str | None = None

    def describe(self) -> str:
        parts = [p for p in (self.system, self.location or self.stream) if p]
        if self.source_key:
            parts.append(f"key {self.source_key}")
        if self.field:
            parts.append(f"field {self.field}")
        return f"{' / '.join(parts)}: {self.reason}"


class KeyringError(ConfigError):
    """The keyring or master key is missing, unreadable, unsafe, or does not open this
    store's data keys. A ``ConfigError`` (callers that catch those keep working) whose
    message is one line naming what to do; never any key material or record value."""

    def __init__(self, message: str, *, where: str = ""):
        super().__init__([ConfigProblem(where, "", message)])

    def __str__(self) -> str:
        problem = self.problems[0]
        return str(problem) if problem.file else problem.message


class WrongKeyringError(KeyringError):
    """A data key in the store does not unwrap with the keyring: another deployment's
    keyring or master key (or an altered key table). Fails safe: nothing is read."""

    def __init__(self, source: str = ""):
        super().__init__("the keyring does not open this store's data keys: wrong keyring "
                         "or KONTOR_MASTER_KEY?", where=source)


#: Optional packages (pyproject.toml's extras) by the module Python imports: the extra.
EXTRAS: dict[str, str] = {"psycopg": "postgres", "pymysql": "mysql", "ldap3": "ldap"}


def missing_extra(what: str, error: ImportError, module: str = "") -> str:
    """One line for a user whose install lacks a driver: what needs which extra.

    ``error`` is the ImportError of the missing package; ``module`` names the package
    when the error does not (psycopg without its binary part raises a nameless one). A
    package no extra installs (another driver named in a URL, say) is named as it is."""
    module = (error.name or module).partition(".")[0]
    extra = EXTRAS.get(module)
    if extra is None:
        return f"{what} needs the Python package {module or error}, which is not installed"
    return f"{what} needs the {extra} extra: pip install 'kontor[{extra}]'"


class MappingError(HubError):
    """A record could not be mapped: a skippable, per-record problem."""

    def __init__(self, reason: str, *, field: str | None = None):
        self.reason = reason
        self.field = field
        super().__init__(f"field {field}: {reason}" if field else reason)


class PolicyError(HubError):
    """The privacy policy refuses an operation."""


class StoreError(HubError):
    """The master store is unreachable or inconsistent."""


class ConnectorError(HubError):
    """Raised by connectors; the subclass tells the runner how to react."""


class FatalConnectorError(ConnectorError):
    """Retrying will not help (bad credentials, missing file, wrong table): stop this system."""


class RetriableConnectorError(ConnectorError):
    """Transient (timeout, 503, lock): the same call may succeed later."""


@dataclass
class SkippableRecordError(ConnectorError):
    """One record is bad; quarantine it and carry on with the rest."""

    problem: RecordProblem = field(default_factory=lambda: RecordProblem(reason="bad record"))

    def __post_init__(self) -> None:
        super().__init__(self.problem.describe())
