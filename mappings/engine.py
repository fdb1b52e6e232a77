"""Compile a mapping file into fast per-record functions, inbound and outbound."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub.errors import ConfigError, ConfigProblem, MappingError
from hub.yamlfile import load_yaml
from mappings import converters as conv
from mappings.spec import FieldMap, MappingSpec


@dataclass(frozen=True)
class _CompiledField:
    name: str  # canonical field
    column: str  # the system's column
    parse: conv.Inbound
    render: conv.Outbound
    default: Any
    required: bool
    values: Mapping[str, Any] | None
    reverse_values: Mapping[Any, str] | None


def _converters(type_name: str, fm: FieldMap) -> tuple[conv.Inbound, conv.Outbound]:
    if type_name == "date":
        return conv.date_converters(fm.format)
    if type_name == "datetime":
        return conv.datetime_converters(fm.format)
    if type_name == "decimal":
        return conv.decimal_converters(fm.decimal_comma)
    if type_name == "int":
        return conv.int_converters()
    if type_name == "bool":
        return conv.bool_converters(fm.true_values, fm.false_values)
    return conv.text_converters(fm.normalise)


def _compile_field(name: str, type_name: str, fm: FieldMap) -> _CompiledField:
    parse, render = _converters(type_name, fm)
    reverse = {v: k for k, v in fm.values.items()} if fm.values else None
    return _CompiledField(name, fm.column, parse, render, fm.default, fm.required,
                          fm.values, reverse)


class CompiledMapping:
    """A loaded mapping for one system stream; ``inbound`` and ``outbound`` per record."""

    def __init__(self, spec: MappingSpec, field_types: Mapping[str, str], source: str):
        self.spec = spec
        self.entity = spec.entity
        self.source = source
        self._fields = [_compile_field(n, field_types[n], fm) for n, fm in spec.fields.items()]
        self._updated_at = (_compile_field("updated_at", "datetime", spec.updated_at)
                            if spec.updated_at else None)
        self.columns = frozenset(f.column for f in self._fields) | (
            {spec.updated_at.column} if spec.updated_at else set())

    @property
    def canonical_fields(self) -> list[str]:
        return [f.name for f in self._fields]

    def unknown_columns(self, columns: Iterable[str]) -> set[str]:
        """Source columns this mapping does not know: reported, and never passed through."""
        return {c for c in columns if c not in self.columns}

    def inbound(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], dt.datetime | None]:
        """System record -> (canonical values, business update time). Raises MappingError."""
        out: dict[str, Any] = {}
        for f in self._fields:
            raw = record.get(f.column)
            if f.values is not None and raw is not None:
                key = str(raw).strip()
                if key in f.values:
                    raw = f.values[key]
                elif key:
                    raise MappingError(f"unknown code in column {f.column!r}", field=f.name)
            try:
                value = f.parse(raw)
            except MappingError as exc:
                raise MappingError(f"{exc.reason} in column {f.column!r}", field=f.name) from None
            if value is None:
                value = f.default
            if value is None and f.required:
                raise MappingError(f"required column {f.column!r} is empty", field=f.name)
            out[f.name] = value
        updated = None
        if self._updated_at is not None:
            try:
                updated = self._updated_at.parse(record.get(self._updated_at.column))
            except MappingError as exc:
                raise MappingError(f"{exc.reason} in column {self._updated_at.column!r}",
                                   field="updated_at") from None
        return out, updated

    def outbound(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Canonical values (already through the privacy gate) -> the system's columns.

        Fields absent from ``values`` (denied by the gate) are absent from the result.
        """
        out: dict[str, Any] = {}
        for f in self._fields:
            if f.name not in values:
                continue
            value = values[f.name]
            if f.reverse_values is not None and value in f.reverse_values:
                out[f.column] = f.reverse_values[value]
            else:
                out[f.column] = f.render(value)
        return out


def load_mapping(path: Path, field_types: Mapping[str, Mapping[str, str]],
                 *, entity: str | None = None) -> CompiledMapping:
    """Load and validate a mapping file; every problem at once, each with file:line.

    ``field_types`` gives, per entity, the canonical (and custom) field names and types.
    """
    doc = load_yaml(path)
    try:
        spec = MappingSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(doc.validation_problems(exc)) from None
    problems: list[ConfigProblem] = []
    if entity is not None and spec.entity != entity:
        problems.append(doc.problem("entity", f"is {spec.entity!r} but the stream carries "
                                    f"{entity!r}"))
    types = field_types.get(spec.entity)
    if types is None:
        problems.append(doc.problem("entity", f"unknown entity {spec.entity!r}; known: "
                                    f"{', '.join(sorted(field_types))}"))
        raise ConfigError(problems)
    for name, fm in spec.fields.items():
        if name not in types:
            problems.append(doc.problem(f"fields.{name}", f"unknown canonical field {name!r} "
                                        f"of {spec.entity} (declare custom fields in "
                                        "kontor.yaml under custom_fields)"))
        elif fm.format and types[name] not in ("date", "datetime"):
            problems.append(doc.problem(f"fields.{name}.format",
                                        f"format applies to dates, but {name} is {types[name]}"))
    if problems:
        raise ConfigError(problems)
    return CompiledMapping(spec, types, str(path))
