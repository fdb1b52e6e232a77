"""XML exports, from files in a directory or over HTTP: each ``record_path`` element is a record.

Parsing streams (``connectors.xml.records``: hardened lxml iterparse) and each record is
flattened into a dict ("@id", "name", "address.city"), so memory stays bounded by the
batch size, not by the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.base import Capability, ConnectorSettings, ReadBatch, StreamSpec
from connectors.files.base import EarlyEnd, FileConnector, FileSettings
from connectors.files.batches import BatchBuilder, HashingReader, file_hash
from connectors.xml import http as xml_http
from connectors.xml.records import RecordPath, libxml2_encoding, records
from hub.errors import RecordProblem

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
        RecordPath.parse(self.path_text, self.namespaces)  # raises ValueError if bad
        if self.url is not None and (self.directory != "." or self.archive_directory):
            raise ValueError("`url` replaces `directory` and `archive_directory`; set one")
        if self.password is not None and self.username is None:
            raise ValueError("`password` needs a `username`")
        return self

    @property
    def path_text(self) -> str:
        return self.record_path or self.record_tag or ""

    @property
    def auth(self) -> tuple[str, str] | None:
        if self.username is None:
            return None
        secret = self.password.get_secret_value() if self.password else ""
        return self.username, secret


class XmlConnector(FileConnector):
    """Reads records out of XML files in one directory, or from an HTTP(S) server."""

    kind: ClassVar[str] = "xml"
    settings_model: ClassVar[type[ConnectorSettings]] = XmlSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.READ, Capability.DISCOVER})
    settings: XmlSettings

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

