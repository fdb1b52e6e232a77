"""XML files in a directory (read and written) or exports over HTTP (read): each
``record_path`` element is a record.

Parsing streams (``connectors.xml.records``: hardened lxml iterparse) and each record is
flattened into a dict ("@id", "name", "address.city"), so memory stays bounded by the
batch size, not by the file. Writing turns such fields back into elements and rewrites
the file into a temp file that atomically replaces it (``connectors.xml.write``); what it
writes it reads back, and re-sending a batch changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors._keys import key_text, key_values
from connectors.base import (
    Capability,
    ConnectorSettings,
    ReadBatch,
    Record,
    StreamSpec,
    WriteResult,
)
from connectors.files.base import EarlyEnd, FileConnector, FileSettings, writing
from connectors.files.batches import BatchBuilder, HashingReader, file_hash
from connectors.files.text import cell_text
from connectors.xml import http as xml_http
from connectors.xml.fields import Value, prepare, xml_name_problem
from connectors.xml.records import RecordPath, libxml2_encoding, local, records
from connectors.xml.write import Layout, ReadSide, Shapes, XmlRewrite
from hub.errors import FatalConnectorError, RecordProblem

#: How many records ``discover`` looks at to learn a file's fields.
DISCOVER_SAMPLE = 100


class XmlSettings(FileSettings):
    """Where the XML comes from (``directory`` or ``url``) and which elements are records."""

    model_config = ConfigDict(hide_input_in_errors=True)  # never echo a password back

    suffix: str = ".xml"
    #: Path of a record element, e.g. "export/employees/employee" ("/..." = from the
    #: document element; otherwise the end of the path). Steps may use ``namespaces``.
    record_path: str | None = None
    #: Shorthand for a one-step ``record_path`` (the record element's name).
    record_tag: str | None = None
    #: Prefix -> namespace URI, for ``record_path`` steps like "hr:employee".
    namespaces: dict[str, str] = Field(default_factory=dict)
    #: Overrides the encoding the XML declares; None trusts the document.
    encoding: str | None = None
    #: HTTP(S) base url instead of ``directory``; a stream's resource is relative to it.
    url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    #: Seconds to wait for the server to answer (and between chunks of the download).
    timeout: float = Field(default=30.0, gt=0, le=3600)
    #: Writing: the document element of the files written ("name" or "prefix:name").
    #: Default: the first step of ``record_path`` (or "records" for a one-step path).
    root: str | None = None
    #: Writing: spaces per level of nesting; 0 writes each file on one line.
    indent: int = Field(default=2, ge=0, le=8)

    @field_validator("encoding")
    @classmethod
    def _codec(cls, value: str | None) -> str | None:
        return None if value is None else libxml2_encoding(value)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// url")
        if parts.username or parts.password:
            raise ValueError("must not contain credentials; set `username` and "
                             "`password: ${env:NAME}` instead")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.record_path is None) == (self.record_tag is None):
            raise ValueError("set exactly one of `record_path` and `record_tag`")
        path = RecordPath.parse(self.path_text, self.namespaces)  # ValueError if bad
        for step in path.steps:
            if (problem := xml_name_problem(local(step))) is not None:
                raise ValueError(f"record_path: {local(step)!r} {problem}")
        if self.root is not None:
            self._check_root(path)
        if self.url is not None and (self.directory != "." or self.archive_directory):
            raise ValueError("`url` replaces `directory` and `archive_directory`; set one")
        if self.password is not None and self.username is None:
            raise ValueError("`password` needs a `username`")
        return self

    def _check_root(self, path: RecordPath) -> None:
        root = RecordPath.parse(self.root or "", self.namespaces)
        if root.absolute or len(root.steps) != 1:
            raise ValueError("root: must be one element name, without slashes")
        if (problem := xml_name_problem(local(root.steps[0]))) is not None:
            raise ValueError(f"root: {local(root.steps[0])!r} {problem}")
        if path.absolute and root.steps[0] != path.steps[0]:
            raise ValueError("root: an absolute record_path already names the document "
                             "element (its first step); leave `root` out or make them match")

    @property
    def path_text(self) -> str:
        return self.record_path or self.record_tag or ""

    @property
    def write_layout(self) -> Layout:
        path = RecordPath.parse(self.path_text, self.namespaces)
        root = RecordPath.parse(self.root, self.namespaces).steps[0] if self.root else None
        return Layout.build(path, root=root, namespaces=self.namespaces,
                            encoding=self.encoding, indent=self.indent)

    @property
    def auth(self) -> tuple[str, str] | None:
        if self.username is None:
            return None
        secret = self.password.get_secret_value() if self.password else ""
        return self.username, secret


class XmlConnector(FileConnector):
    """Reads, upserts and deletes records of XML files in one directory; reads exports
    from an HTTP(S) server."""

    kind: ClassVar[str] = "xml"
    settings_model: ClassVar[type[ConnectorSettings]] = XmlSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.READ, Capability.WRITE, Capability.DELETE, Capability.DISCOVER})
    settings: XmlSettings

    def __init__(self, settings: ConnectorSettings, *, system: str, base_dir: Path):
        super().__init__(settings, system=system, base_dir=base_dir)
        self._shapes = Shapes(self.settings.write_layout.encoding)

    @property
    def _record_path(self) -> RecordPath:
        return RecordPath.parse(self.settings.path_text, self.settings.namespaces)

    def _records(self, source: Any, path: Path, resource: str) -> Iterator[tuple[str, Any]]:
        if path.stat().st_size == 0:
            return  # an empty file holds no records; not worth a problem
        yield from records(source, self._record_path, encoding=self.settings.encoding,
                           system=self.system, where=resource)

    def _fields(self, path: Path, resource: str) -> list[dict[str, str]]:
        fields: dict[str, str] = {}
        with open(path, "rb") as fh:
            for seen, (kind, data) in enumerate(self._records(fh, path, resource)):
                if kind != "record" or seen >= DISCOVER_SAMPLE:
                    break
                for key, value in data.items():
                    if isinstance(value, list) or key not in fields:
                        fields[key] = "list" if isinstance(value, list) else "string"
        return [{"name": k, "type": t} for k, t in fields.items()]

    def _parse(self, source: HashingReader, path: Path, resource: str
               ) -> Iterator[tuple[dict[str, Any], str] | RecordProblem | EarlyEnd]:
        number = 0
        for kind, data in self._records(source, path, resource):
            if kind == "record":
                number += 1
                yield data, f"{resource}:record {number}"
            else:  # malformed (a cut-off file, too): the parser cannot go on
                line, reason = data
                yield RecordProblem(reason=reason, system=self.system, stream=resource,
                                    location=f"{resource}:line {line}")
                yield EarlyEnd(reason)

    # -- over HTTP ----------------------------------------------------------------------

    def _fetch(self, resource: str) -> Any:
        url = xml_http.resource_url(self.settings.url or "", resource)
        return xml_http.download(self.system, url, auth=self.settings.auth,
                                 timeout=self.settings.timeout)

    def check(self) -> None:
        if self.settings.url is None:
            super().check()
            return
        xml_http.probe(self.system, self.settings.url, auth=self.settings.auth,
                       timeout=self.settings.timeout)

    def streams(self) -> list[str]:
        return [] if self.settings.url else super().streams()

    def discover(self, stream: StreamSpec | None = None) -> list[dict[str, Any]]:
        if self.settings.url is None:
            return super().discover(stream)
        if stream is None:
            return []  # a server offers no listing to discover streams from
        with self._fetch(stream.resource) as path:
            entry: dict[str, Any] = {"resource": stream.resource,
                                     "fields": self._fields(path, stream.resource)}
        if stream.key:
            entry["key"] = list(stream.key)
        return [entry]

    def read(self, stream: StreamSpec, *, since: Any = None, batch_size: int = 5000
             ) -> Iterator[ReadBatch]:
        if self.settings.url is None:
            yield from super().read(stream, since=since, batch_size=batch_size)
            return
        with self._fetch(stream.resource) as path:
            batches = BatchBuilder(batch_size)
            if since is not None and since == file_hash(path):
                return  # the server sends what it sent last time
            cursor = yield from self._read_file(path, stream.resource, batches)
            yield batches.finish(cursor)


    # -- write and delete ---------------------------------------------------------------

    def refused_fields(self, names: Iterable[str]) -> list[str]:
        """Why some field ``names`` cannot be written as XML, one line each; for checking
        an outbound mapping's target columns before a run."""
        return self._shapes.problems(list(dict.fromkeys(names)))

    def _rewrite_for(self, stream: StreamSpec, action: str, **batch: Any) -> XmlRewrite:
        if self.settings.url is not None:
            raise FatalConnectorError(f"{self.system}: cannot {action}: an export read over "
                                      "HTTP (`url`) is read-only; an XML target needs a "
                                      "`directory`")
        if not stream.key:
            raise FatalConnectorError(f"{self.system}: stream {stream.resource!r} needs a key "
                                      f"to {action}")
        layout = self.settings.write_layout
        if not layout.outer:
            raise FatalConnectorError(
                f"{self.system}: cannot {action} {stream.resource}: record_path "
                f"{self.settings.path_text!r} makes each record the document element, so a "
                "file could hold one record only; name the enclosing elements too")
        if problems := self.refused_fields(stream.key):
            raise FatalConnectorError(f"{self.system}: {stream.resource}: key "
                                      f"{'; '.join(problems)}")
        return XmlRewrite(layout, ReadSide(self._record_path, self.settings.encoding),
                          self._shapes, system=self.system, resource=stream.resource,
                          key=stream.key, **batch)

    def _apply(self, stream: StreamSpec, rewrite: XmlRewrite) -> None:
        path = self._write_path(stream.resource)
        with writing(self.system, path):
            self._memory[path] = rewrite.apply(path, self._memory.get(path))

    def write(self, stream: StreamSpec, records: list[Record]) -> WriteResult:
        pending: dict[tuple[str, ...], dict[str, Value]] = {}
        rewrite = self._rewrite_for(stream, "write (upsert by key)", upserts=pending)
        kinds = dict.fromkeys(tuple(record) for record in records)  # usually just one
        if problems := self.refused_fields(n for names in kinds for n in names):
            raise FatalConnectorError(  # a mapping mistake: it concerns the whole batch
                f"{self.system}: {stream.resource}: {'; '.join(problems)}; rename the "
                "column(s) in the outbound mapping. Nothing was written")
        result = WriteResult()
        for index, record in enumerate(records, start=1):
            values, problem = prepare(record, self._shapes.of(tuple(record)).single)
            if problem is None:
                for key in stream.key:
                    value = values.get(key)
                    if type(value) is not str or not value.strip():
                        problem = ("key field is missing, empty or a list", key)
                        break
            if problem is not None:
                result.rejected.append((key_text(stream.key, record, index), RecordProblem(
                    reason=problem[0], system=self.system, stream=stream.resource,
                    location=f"{stream.resource}:batch record {index}", field=problem[1])))
                continue
            # Matched as read back: the reading side trims spaces around an element's text.
            found = tuple(str(values[k]).strip() for k in stream.key)
            pending.setdefault(found, {}).update(values)  # same key twice: later values win
            result.written += 1
        self._apply(stream, rewrite)
        return result

    def delete(self, stream: StreamSpec, keys: Sequence[str | Sequence[Any]]) -> WriteResult:
        wanted: set[tuple[str, ...]] = set()
        rewrite = self._rewrite_for(stream, "delete", deletes=wanted)
        result = WriteResult()
        for index, given in enumerate(keys, start=1):
            try:
                values = key_values(stream.key, given if isinstance(given, str)
                                    else [cell_text(v) for v in given])
                wanted.add(tuple(v.strip() for v in values))  # as write() matches them
                result.written += 1
            except ValueError as exc:
                result.rejected.append((f"#{index}", RecordProblem(
                    reason=str(exc), system=self.system, stream=stream.resource,
                    location=f"{stream.resource}:delete key {index}")))
        self._apply(stream, rewrite)
        return result
