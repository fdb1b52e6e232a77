"""kontor.yaml: the deployment's systems, streams and custom fields, validated all at once.

Loading a deployment validates the file itself, every connector's settings, every
mapping file and every data category, and reports *every* problem with file, line and
key path in one ``ConfigError``. Secrets are references (``${env:NAME}``), resolved here
and handed to connectors as ``SecretStr``; a literal secret is refused.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from connectors.base import Connector, ConnectorSettings, StreamSpec
from hub import canonical, registry, secrets, taxonomy
from hub.errors import ConfigError, ConfigProblem
from hub.matching import settings as mm_settings
from hub.yamlfile import YamlDocument, load_yaml
from mappings.engine import CompiledMapping, load_mapping
from policies import keys
from policies.gate import PrivacyGate
from policies.keys import Keyring
from policies.load import PolicySet, load_policies

DEFAULT_CONFIG = "kontor.yaml"
FieldType = Literal["str", "int", "decimal", "date", "datetime", "bool"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomField(_Strict):
    type: FieldType = "str"
    category: str


class StreamConfig(_Strict):
    entity: Literal["customer", "employee"]
    direction: Literal["inbound", "outbound"]
    resource: str = Field(min_length=1)
    key: list[str] = Field(min_length=1)
    mapping: str
    cursor_field: str | None = None
    #: Outbound: the purpose (a Fides data use) the destination receives data for.
    purpose: str | None = None
    #: Outbound: send only golden records whose canonical fields equal these values.
    only_if: dict[str, Any] = Field(default_factory=dict)
    #: Inbound: every read that returns records returns all of them, so a record missing
    #: from it was deleted at the source. Default: no cursor_field and no wildcard resource.
    full_snapshot: bool | None = None
    #: Outbound: what the target does with a record it holds once its golden record is
    #: gone (deleted, merged into another, retired, erased) or no longer meets only_if:
    #: delete it, deactivate it (write the ``deactivate`` values over it), or keep it.
    #: Default: delete where the connector can, else keep.
    on_golden_delete: Literal["delete", "deactivate", "keep"] | None = None
    #: Outbound, with ``on_golden_delete: deactivate``: target columns and the values
    #: that mark a record inactive there, e.g. ``{active: "false"}``.
    deactivate: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _deactivate_values(self) -> StreamConfig:
        if self.on_golden_delete == "deactivate" and not self.deactivate:
            raise ValueError("on_golden_delete: deactivate needs `deactivate:` with the target "
                             "columns and values that mark a record inactive")
        return self


class SystemConfig(_Strict):
    connector: str
    description: str = ""
    #: ISO 3166 alpha-2: phone numbers without a country code, postal-code formats.
    default_region: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    settings: dict[str, Any] = Field(default_factory=dict)
    streams: dict[str, StreamConfig] = Field(min_length=1)


_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class JobConfig(_Strict):
    """A scheduled sync (``jobs:`` in kontor.yaml); `kontor serve` runs it (hub/jobs.py).

    ```yaml
    jobs:
      nightly: {cron: "0 2 * * *"}   # crontab syntax, in the hub's local time zone
      crm-to-newsletter: {systems: [crm, newsletter], interval: 15m, misfire_grace_time: 600}
    ```
    """

    systems: list[str] = Field(default_factory=list)  # empty: every system
    cron: str | None = None
    interval: str | None = None
    misfire_grace_time: int = Field(default=3600, ge=1)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None and not _INTERVAL.match(value):
            raise ValueError("interval must look like 30s, 15m, 2h or 1d")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value)
            except ValueError as exc:
                raise ValueError(f"not a crontab expression ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> JobConfig:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("a job needs exactly one of cron or interval")
        return self

    def trigger(self) -> Any:
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        if self.cron:
            return CronTrigger.from_crontab(self.cron)
        m = _INTERVAL.match(self.interval or "")
        assert m is not None
        return IntervalTrigger(**{_UNITS[m.group(2)]: int(m.group(1))})


class KontorConfig(_Strict):
    version: Literal[1] = 1
    database: str | None = None
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    #: Folder of policy files (every *.yaml in it), relative to kontor.yaml.
    policies: str = "policies"
    #: Master-key file; KONTOR_MASTER_KEY in the environment takes precedence.
    keyring: str = ".kontor/keyring.json"
    #: Where browsers and SCIM clients reach the hub (https://kontor.example.org): builds
    #: SCIM locations and is the only origin the dashboard accepts forms from.
    public_url: str | None = Field(default=None, max_length=200,
                                   pattern=r"^https?://[^/?#@\s]+(/[^?#\s]*)?$")
    custom_fields: dict[Literal["customer", "employee"], dict[str, CustomField]] = Field(
        default_factory=dict)
    systems: dict[str, SystemConfig] = Field(default_factory=dict)
    #: Scheduled syncs that `kontor serve` runs (see JobConfig, hub/jobs.py).
    jobs: dict[str, JobConfig] = Field(default_factory=dict)
    # Match & merge (hub/matching/settings.py): rules, survivorship, delete policy.
    matching: dict[Literal["customer", "employee"], mm_settings.EntityMatching] = Field(
        default_factory=dict)
    survivorship: dict[Literal["customer", "employee"], mm_settings.EntitySurvivorship] = \
        Field(default_factory=dict)
    deletes: mm_settings.DeletePolicy = Field(default_factory=mm_settings.DeletePolicy)
    #: How many audit entries may follow the last signed checkpoint before `kontor audit
    #: verify` fails (exit 3) unless --allow-unsigned-tail: they could be rewritten unseen.
    audit_unsigned_tail: int = Field(default=10_000, ge=0)


@dataclass
class Stream:
    """One configured stream, ready to run."""

    system: str
    name: str
    config: StreamConfig
    spec: StreamSpec
    mapping: CompiledMapping

    @property
    def entity(self) -> str:
        return self.config.entity

    @property
    def label(self) -> str:
        return f"{self.system}.{self.name}"


@dataclass
class System:
    name: str
    config: SystemConfig
    connector_cls: type[Connector]
    settings: ConnectorSettings
    streams: list[Stream] = field(default_factory=list)

    def connect(self, base_dir: Path) -> Connector:
        return self.connector_cls(self.settings, system=self.name, base_dir=base_dir)


@dataclass
class Deployment:
    """A loaded, validated deployment folder."""

    path: Path
    config: KontorConfig
    systems: dict[str, System]
    fields: dict[str, dict[str, canonical.FieldSpec]]
    database_url: str
    policy_set: PolicySet = field(default_factory=PolicySet)

    @property
    def keyring_path(self) -> Path:
        return (self.base_dir / self.config.keyring).resolve()

    def keyring(self) -> Keyring:
        """The master keys; ``ConfigError`` naming what to do when there are none."""
        return keys.load(self.keyring_path)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def gate(self, keyring: Keyring | None = None) -> PrivacyGate:
        """The privacy gate: every field's category, the policies, and the keys."""
        return PrivacyGate({e: {n: s.category for n, s in specs.items()}
                            for e, specs in self.fields.items()},
                           self.policy_set, keyring if keyring is not None else self.keyring())

    def streams(self, direction: str, systems: list[str] | None = None) -> list[Stream]:
        return [s for sys in self.systems.values() if not systems or sys.name in systems
                for s in sys.streams if s.config.direction == direction]


def config_path(explicit: str | Path | None = None) -> Path:
    """``--config``, else ``KONTOR_CONFIG``, else ``./kontor.yaml``."""
    chosen = explicit or os.environ.get("KONTOR_CONFIG") or DEFAULT_CONFIG
    return Path(chosen).expanduser().resolve()


def _field_catalog(cfg: KontorConfig, doc: YamlDocument, problems: list[ConfigProblem]
                   ) -> dict[str, dict[str, canonical.FieldSpec]]:
    catalog: dict[str, dict[str, canonical.FieldSpec]] = {
        e: canonical.builtin_fields(e) for e in canonical.ENTITIES}
    for entity, custom in cfg.custom_fields.items():
        for name, cf in custom.items():
            key_path = f"custom_fields.{entity}.{name}"
            if name in catalog[entity]:
                problems.append(doc.problem(key_path, f"{name!r} is already a canonical field"))
                continue
            try:
                category = taxonomy.lookup(cf.category)
            except KeyError:
                hint = taxonomy.suggest(cf.category)
                problems.append(doc.problem(
                    f"{key_path}.category", f"unknown data category {cf.category!r}"
                    + (f"; did you mean {', '.join(hint)}?" if hint else "")))
                continue
            catalog[entity][name] = canonical.FieldSpec(name, cf.type, category, custom=True)
    return catalog


def _secret_fields(model: type[ConnectorSettings]) -> set[str]:
    return {n for n, f in model.model_fields.items()
            if f.annotation in (SecretStr, SecretStr | None)}


def _build_settings(name: str, sys_cfg: SystemConfig, cls: type[Connector], base_dir: Path,
                    doc: YamlDocument, problems: list[ConfigProblem]
                    ) -> ConnectorSettings | None:
    prefix = f"systems.{name}.settings"
    raw = sys_cfg.settings
    literal = False
    for secret in sorted(_secret_fields(cls.settings_model)):
        value = raw.get(secret)
        if value is not None and not secrets.is_reference(value):
            problems.append(doc.problem(f"{prefix}.{secret}",
                                        "secrets must be references like ${env:NAME} or "
                                        "${file:PATH}, never literal values"))
            literal = True
    if literal:
        return None
    # every unresolved reference, each at its own key (systems.x.settings.password)
    resolved, unresolved = secrets.resolve_all(raw, base_dir, prefix)
    if unresolved:
        problems.extend(doc.problem(exc.key, str(exc)) for exc in unresolved)
        return None
    try:
        return cls.settings_model.model_validate(resolved)
    except ValidationError as exc:
        problems.extend(doc.validation_problems(exc, prefix))
        return None


def load(path: str | Path | None = None) -> Deployment:
    """Load and validate a deployment; raise ``ConfigError`` listing every problem."""
    cfg_path = config_path(path)
    doc = load_yaml(cfg_path)
    base_dir = cfg_path.parent
    if doc.empty:  # nothing to check: say so, instead of a cascade of follow-on problems
        raise ConfigError([ConfigProblem(str(cfg_path), "", f"{cfg_path.name} is empty: run "
                                         "`kontor init` for a commented starter")])
    problems: list[ConfigProblem] = []
    cfg = _validate(doc, problems)
    if cfg is None:
        raise ConfigError(problems)
    # What the file declares, including parts set aside as invalid above, so that the
    # checks below do not report them a second time as unknown.
    raw = _Declared(doc.data)

    catalog = _field_catalog(cfg, doc, problems)
    field_types = {e: {n: s.type for n, s in specs.items()} for e, specs in catalog.items()}
    for entity, names in raw.custom_fields.items():
        for n, type_name in names.items():
            field_types.setdefault(entity, {}).setdefault(n, type_name)
    installed = registry.connectors()
    systems: dict[str, System] = {}

    for name, sys_cfg in cfg.systems.items():
        cls = installed.get(sys_cfg.connector)
        if cls is None:
            problems.append(doc.problem(
                f"systems.{name}.connector", f"unknown connector {sys_cfg.connector!r}; "
                f"installed: {', '.join(sorted(installed)) or 'none'}"))
            continue
        settings = _build_settings(name, sys_cfg, cls, base_dir, doc, problems)
        if settings is None:
            continue
        system = System(name, sys_cfg, cls, settings)
        for stream_name, st in sys_cfg.streams.items():
            key_path = f"systems.{name}.streams.{stream_name}"
            if st.direction == "outbound":
                unknown = [f for f in st.only_if if f not in catalog[st.entity]]
                if unknown:
                    problems.append(doc.problem(f"{key_path}.only_if",
                                                f"unknown field {unknown[0]!r}"))
            try:
                mapping = load_mapping((base_dir / st.mapping).resolve(), field_types,
                                       entity=st.entity, default_region=sys_cfg.default_region)
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            spec = StreamSpec(resource=st.resource, key=tuple(st.key),
                              cursor_field=st.cursor_field)
            system.streams.append(Stream(name, stream_name, st, spec, mapping))
        systems[name] = system

    system_names = set(cfg.systems) | set(raw.systems)
    problems.extend(mm_settings.check(cfg, catalog, system_names, doc))
    for job_name, job in cfg.jobs.items():
        for i, name in enumerate(job.systems):
            if name not in system_names:
                problems.append(doc.problem(f"jobs.{job_name}.systems.{i}",
                                            f"unknown system {name!r}"))

    policy_set = PolicySet()
    # systems whose settings or mappings failed above are still destinations: a policy
    # naming one is not wrong
    destinations = system_names | {f"{name}.{stream}" for name, streams in
                                   [*raw.systems.items(),
                                    *((n, list(c.streams)) for n, c in cfg.systems.items())]
                                   for stream in streams}
    policy_fields = {e: set(specs) | set(raw.custom_fields.get(e, {}))
                     for e, specs in catalog.items()}
    try:
        policy_set = load_policies((base_dir / cfg.policies).resolve(), policy_fields,
                                   destinations)
    except ConfigError as exc:
        problems.extend(exc.problems)

    database_url = ""
    try:
        database_url = _database_url(cfg, base_dir, doc)
    except ConfigError as exc:
        problems.extend(exc.problems)

    if problems:
        raise ConfigError(problems)
    return Deployment(cfg_path, cfg, systems, catalog, database_url, policy_set)


#: How deep an invalid part of kontor.yaml is set aside so that the rest is still checked:
#: a stream, a custom field, an entry of these collections, else the top-level key.
_COLLECTIONS = {"systems", "jobs", "matching", "survivorship", "custom_fields"}


def _prune_at(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    if "[key]" in loc:
        loc = loc[:loc.index("[key]")]
    if len(loc) >= 4 and loc[0] == "systems" and loc[2] == "streams":
        return loc[:4]
    if len(loc) >= 3 and loc[0] == "custom_fields":
        return loc[:3]
    if len(loc) >= 2 and loc[0] in _COLLECTIONS:
        return loc[:2]
    return loc[:1]


def _remove(data: Any, path: tuple[Any, ...]) -> bool:
    """Delete ``path`` from nested dicts; whether anything was deleted."""
    if not path:
        return False
    node = data
    for part in path[:-1]:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    if isinstance(node, dict) and path[-1] in node:
        del node[path[-1]]
        return True
    return False


def _validate(doc: YamlDocument, problems: list[ConfigProblem]) -> KontorConfig | None:
    """kontor.yaml as a model. Its problems go to ``problems``; the invalid parts are then
    set aside (defaults for top-level keys) so that mappings and policies are checked too,
    in the same run. ``None`` when nothing sensible is left to check."""
    try:
        return KontorConfig.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(doc.validation_problems(exc))
        error = exc
    data = copy.deepcopy(doc.data)
    if not isinstance(data, dict):
        return None
    for _ in range(20):  # each round removes at least one part, so this ends
        removed = [_remove(data, _prune_at(tuple(e["loc"]))) for e in error.errors()]
        if not any(removed):
            return None
        try:
            return KontorConfig.model_validate(data)
        except ValidationError as exc:  # follow-ons of the removal, not reported again
            error = exc
    return None


class _Declared:
    """System, stream and custom-field names as kontor.yaml spells them, valid or not."""

    def __init__(self, data: Any):
        self.systems: dict[str, list[str]] = {}
        self.custom_fields: dict[str, dict[str, str]] = {}
        data = data if isinstance(data, dict) else {}
        systems = data.get("systems")
        for name, sys_cfg in (systems.items() if isinstance(systems, dict) else ()):
            streams = sys_cfg.get("streams") if isinstance(sys_cfg, dict) else None
            self.systems[str(name)] = [str(s) for s in streams] \
                if isinstance(streams, dict) else []
        custom = data.get("custom_fields")
        for entity, fields in (custom.items() if isinstance(custom, dict) else ()):
            if entity in canonical.ENTITIES and isinstance(fields, dict):
                self.custom_fields[entity] = {
                    str(n): str(f.get("type")) if isinstance(f, dict) and f.get("type") in
                    ("str", "int", "decimal", "date", "datetime", "bool") else "str"
                    for n, f in fields.items()}


def _database_url(cfg: KontorConfig, base_dir: Path, doc: YamlDocument) -> str:
    url = os.environ.get("KONTOR_DATABASE_URL") or cfg.database
    if not url:
        return f"sqlite:///{base_dir / 'kontor.db'}"
    try:
        url = secrets.resolve(url, base_dir)
    except secrets.UnresolvedSecret as exc:
        raise ConfigError([doc.problem("database", str(exc))]) from None
    if "://" not in url:  # a plain file name means an SQLite file
        url = f"sqlite:///{url}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError([doc.problem("database", "not a database URL (expected e.g. "
                                       "kontor.db or postgresql://host/db)")]) from None
    name = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and name and name != ":memory:":
        # A relative file is next to kontor.yaml, also in SQLite's URI form
        # (sqlite:///file:kontor.db?mode=ro&uri=true), whose query must survive.
        prefix, path = ("file:", name[5:]) if name.startswith("file:") else ("", name)
        if not Path(path).is_absolute():
            query = url[url.index("?"):] if "?" in url else ""
            url = f"sqlite:///{prefix}{(base_dir / path).resolve()}{query}"
    return url
