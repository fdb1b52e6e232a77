"""Compile a mapping file into fast per-record functions, inbound and outbound."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub.errors import ConfigError, ConfigProblem, MappingError
from hub.yamlfile import load_yaml
from mappings import converters as conv
from mappings import normalise, plugins, splitjoin
from mappings.expr import Expression, ExpressionError
from mappings.spec import FieldMap, MappingSpec

Reader = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class DroppedField:
    """A field whose invalid value ``on_invalid: drop_field`` left out of a mapped record.

    ``reason`` names the field's source ("in column 'Geburtsdatum'"), never the value.
    """

    field: str
    reason: str


@dataclass(frozen=True)
class _CompiledField:
    name: str  # canonical field
    fm: FieldMap
    label: str  # where the value comes from, for messages: "column 'PLZ'"
    read: Reader
    parse: conv.Inbound
    render: conv.Outbound
    transform: plugins.Transform | None
    out_transform: plugins.Transform | None
    reverse_values: Mapping[Any, str] | None
    postal: bool  # checked against the record's country after every field is mapped
    column: str  # the one column read ("" when several or none)
    plain: bool  # one column, no codes, transform, default or required check
    drop: bool  # on_invalid: drop_field (an invalid value leaves the field out)


def _converters(type_name: str, fm: FieldMap, region: str | None
                ) -> tuple[conv.Inbound, conv.Outbound]:
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
    return conv.text_converters(normalise.build(fm.normalise, fm.region or region))


def _reader(fm: FieldMap, expression: Expression | None) -> tuple[Reader, str]:
    if expression is not None:
        return expression.evaluate, "expression"
    if fm.columns is not None:
        kind, cols, sep = fm.join or "text", list(fm.columns), fm.separator
        return (lambda r: splitjoin.join(kind, [r.get(c) for c in cols], separator=sep),
                "columns " + ", ".join(repr(c) for c in cols))
    column: str = fm.column  # type: ignore[assignment]
    if fm.split is None:
        return (lambda r: r.get(column)), f"column {column!r}"
    kind, sep = fm.split, fm.separator
    index = fm.part if isinstance(fm.part, int) else splitjoin.PARTS[kind].index(str(fm.part))
    count = max(2, index + 1)

    def read_part(r: Mapping[str, Any]) -> Any:
        text = conv.clean_text(r.get(column))
        return None if text is None else splitjoin.split(kind, text, separator=sep,
                                                         count=count)[index]
    return read_part, f"column {column!r}"


class CompiledMapping:
    """A loaded mapping for one system stream; ``inbound`` and ``outbound`` per record."""

    def __init__(self, spec: MappingSpec, field_types: Mapping[str, str], source: str, *,
                 default_region: str | None = None,
                 expressions: Mapping[str, Expression] | None = None,
                 transforms: Mapping[str, plugins.Transform] | None = None):
        self.spec = spec
        self.entity = spec.entity
        self.source = source
        self.region = spec.default_region or default_region
        exprs, fns = expressions or {}, transforms or {}
        self._fields = [self._compile(n, field_types[n], fm, exprs.get(n), fns)
                        for n, fm in spec.fields.items()]
        self._updated_at = (self._compile("updated_at", "datetime", spec.updated_at,
                                          exprs.get("updated_at"), fns)
                            if spec.updated_at else None)
        self._computed = {c: exprs[f"computed.{c}"] for c in spec.computed}
        self._postal = [f for f in self._fields if f.postal]
        # what the per-record loop reads of each field, unpacked once
        self._inbound_plan = [(f, f.plain, f.name, f.column, f.parse, f.fm.default)
                              for f in self._fields]
        self._reads: dict[str, set[str]] = {}
        for name, fm in [*spec.fields.items(), ("updated_at", spec.updated_at)]:
            if fm is None:
                continue
            e = exprs.get(name)
            for column in [*fm.source_columns, *(e.names if e else ())]:
                self._reads.setdefault(column, set()).add(name)
        self.columns = frozenset(self._reads)

    def _compile(self, name: str, type_name: str, fm: FieldMap, expression: Expression | None,
                 fns: Mapping[str, plugins.Transform]) -> _CompiledField:
        parse, render = _converters(type_name, fm, self.region)
        reverse = {v: k for k, v in fm.values.items()} if fm.values else None
        read, label = _reader(fm, expression)
        transform = fns.get(f"{name}.transform")
        plain = (fm.column is not None and fm.split is None and fm.values is None
                 and transform is None and not fm.required)
        return _CompiledField(name, fm, label, read, parse, render, transform,
                              fns.get(f"{name}.outbound_transform"), reverse,
                              "postal_code" in fm.normalise, fm.column or "", plain,
                              name != "updated_at" and self.spec.drops(fm))

    @property
    def canonical_fields(self) -> list[str]:
        return [f.name for f in self._fields]

    def unknown_columns(self, columns: Iterable[str]) -> set[str]:
        """Source columns this mapping does not know: reported, and never passed through."""
        return {c for c in columns if c not in self.columns}

    def fields_of_column(self, column: str) -> set[str]:
        """The canonical fields a source column feeds (empty when the mapping ignores it)."""
        return set(self._reads.get(column, ()))

    def columns_of_field(self, name: str) -> list[str]:
        """The source columns a canonical field reads (expression names included)."""
        return sorted(c for c, fields in self._reads.items() if name in fields)

    def _value(self, f: _CompiledField, record: Mapping[str, Any]) -> Any:
        raw = f.read(record)
        if f.transform is not None:
            try:
                raw = f.transform(raw, record)
            except MappingError as exc:
                raise MappingError(f"{exc.reason} ({f.label})", field=f.name) from None
        if f.fm.values is not None and raw is not None:
            key = str(raw).strip()
            if key in f.fm.values:
                raw = f.fm.values[key]
            elif key:
                raise MappingError(f"unknown code in {f.label}", field=f.name)
        try:
            value = f.parse(raw)
        except MappingError as exc:
            raise MappingError(f"{exc.reason} in {f.label}", field=f.name) from None
        if value is None:
            value = f.fm.default
        if value is None and f.fm.required:
            raise MappingError(f"required {f.label} is empty", field=f.name)
        return value

    def inbound(self, record: Mapping[str, Any], *, dropped: list[DroppedField] | None = None
                ) -> tuple[dict[str, Any], dt.datetime | None]:
        """System record -> (canonical values, business update time). Raises MappingError.

        A field with ``on_invalid: drop_field`` whose value is invalid is left out of the
        values (not set to None, and not given its ``default``: the source did not leave it
        empty, so nothing is asserted for it) and appended to ``dropped`` when given.
        """
        out: dict[str, Any] = {}
        get = record.get
        for f, plain, name, column, parse, default in self._inbound_plan:
            if plain:  # the common case inline: one column, parsed (the hot loop)
                try:
                    value = parse(get(column))
                except MappingError as exc:
                    self._invalid(f, f"{exc.reason} in {f.label}", dropped)
                    continue
                out[name] = default if value is None else value
            else:
                try:
                    out[name] = self._value(f, record)
                except MappingError as exc:
                    if not f.drop:
                        raise
                    self._invalid(f, exc.reason, dropped)
        for f in self._postal:
            if out.get(f.name) is not None:
                country = out.get("country") or self.region
                try:
                    out[f.name] = normalise.postal_code_for(out[f.name], country)
                except MappingError as exc:
                    del out[f.name]
                    self._invalid(f, f"{exc.reason} in {f.label}", dropped)
        updated = self._value(self._updated_at, record) if self._updated_at else None
        return out, updated

    @staticmethod
    def _invalid(f: _CompiledField, reason: str, dropped: list[DroppedField] | None) -> None:
        """Refuse the record for ``f``'s invalid value, or note the field as dropped."""
        if not f.drop:
            raise MappingError(reason, field=f.name) from None
        if dropped is not None:
            dropped.append(DroppedField(f.name, reason))

    def outbound(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Canonical values (already through the privacy gate) -> the system's columns.

        Fields absent from ``values`` (denied by the gate) are absent from the result, and
        so is a computed column that reads any of them.
        """
        out: dict[str, Any] = {}
        parts: dict[str, dict[int, Any]] = {}
        for f in self._fields:
            if f.name not in values or f.fm.expr is not None:
                continue
            value = values[f.name]
            if f.reverse_values is not None and value in f.reverse_values:
                rendered = f.reverse_values[value]
            else:
                rendered = f.render(value)
            if f.out_transform is not None:
                rendered = f.out_transform(rendered, values)
            fm = f.fm
            if fm.split is not None:
                names = splitjoin.PARTS[fm.split]
                index = fm.part if isinstance(fm.part, int) else names.index(str(fm.part))
                parts.setdefault(fm.column or "", {})[index] = rendered
            elif fm.columns is not None:
                text = conv.clean_text(rendered)
                pieces = (None,) * len(fm.columns) if text is None else splitjoin.split(
                    fm.join or "text", text, separator=fm.separator, count=len(fm.columns))
                out.update(zip(fm.columns, pieces))
            else:
                out[fm.column] = rendered  # type: ignore[index]
        for column, by_index in parts.items():
            kind = next(f.fm.split for f in self._fields if f.fm.column == column and f.fm.split)
            sep = next(f.fm.separator for f in self._fields if f.fm.column == column)
            out[column] = splitjoin.join(kind or "text",
                                         [by_index.get(i) for i in range(max(by_index) + 1)],
                                         separator=sep)
        for column, expression in self._computed.items():
            if expression.names <= values.keys():
                out[column] = expression.evaluate(values)
        return out


def _check_field(name: str, fm: FieldMap, type_name: str, doc: Any,
                 problems: list[ConfigProblem], exprs: dict[str, Expression],
                 fns: dict[str, plugins.Transform]) -> None:
    where = f"fields.{name}" if name != "updated_at" else "updated_at"
    if name == "updated_at" and fm.on_invalid is not None:
        problems.append(doc.problem(f"{where}.on_invalid", "the business time decides which "
                                    "source's value wins: a record whose time cannot be read "
                                    "is always quarantined (remove on_invalid here)"))
    if fm.format and type_name not in ("date", "datetime"):
        problems.append(doc.problem(f"{where}.format",
                                    f"format applies to dates, but {name} is {type_name}"))
    if fm.normalise and type_name != "str":
        problems.append(doc.problem(f"{where}.normalise",
                                    f"normalisers apply to text, but {name} is {type_name}"))
    if fm.expr is not None:
        try:
            exprs[name] = Expression(fm.expr)
        except ExpressionError as exc:
            problems.append(doc.problem(f"{where}.expr", f"invalid expression: {exc}"))
    for key in ("transform", "outbound_transform"):
        transform_name = getattr(fm, key)
        if transform_name:
            try:
                fns[f"{name}.{key}"] = plugins.guarded(transform_name,
                                                       plugins.resolve(transform_name))
            except plugins.UnknownTransform as exc:
                problems.append(doc.problem(f"{where}.{key}", str(exc)))


def load_mapping(path: Path, field_types: Mapping[str, Mapping[str, str]],
                 *, entity: str | None = None, default_region: str | None = None
                 ) -> CompiledMapping:
    """Load and validate a mapping file; every problem at once, each with file:line.

    ``field_types`` gives, per entity, the canonical (and custom) field names and types;
    ``default_region`` is the system's (a mapping's own ``default_region`` wins).
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
    exprs: dict[str, Expression] = {}
    fns: dict[str, plugins.Transform] = {}
    for name, fm in spec.fields.items():
        if name not in types:
            problems.append(doc.problem(f"fields.{name}", f"unknown canonical field {name!r} "
                                        f"of {spec.entity} (declare custom fields in "
                                        "kontor.yaml under custom_fields)"))
        else:
            _check_field(name, fm, types[name], doc, problems, exprs, fns)
    if spec.updated_at is not None:
        _check_field("updated_at", spec.updated_at, "datetime", doc, problems, exprs, fns)
    for column, text in spec.computed.items():
        try:
            expression = Expression(text)
        except ExpressionError as exc:
            problems.append(doc.problem(f"computed.{column}", f"invalid expression: {exc}"))
            continue
        unknown = sorted(expression.names - set(types))
        if unknown:
            problems.append(doc.problem(f"computed.{column}", f"unknown canonical field "
                                        f"{unknown[0]!r} of {spec.entity}"))
        exprs[f"computed.{column}"] = expression
    if problems:
        raise ConfigError(problems)
    return CompiledMapping(spec, types, str(path), default_region=default_region,
                           expressions=exprs, transforms=fns)
