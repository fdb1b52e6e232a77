"""Value converters between a system's text and canonical Python values, both ways.

Each converter is built once per mapped field (formats parsed up front) and then applied
per record, so the hot loop does no configuration look-ups. Errors name the problem but
never echo the value, which may be restricted.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from hub.errors import MappingError

Inbound = Callable[[Any], Any]
Outbound = Callable[[Any], Any]

_TRUE = ("true", "1", "yes", "y", "ja", "j", "x", "oui", "si")
_FALSE = ("false", "0", "no", "n", "nein", "non", "")


def clean_text(value: Any) -> str | None:
    """Strip, Unicode-normalise (NFC), and turn blank into missing."""
    if value is None:
        return None
    if type(value) is str and value.isascii():  # ASCII is in NFC already (a flag check)
        return value.strip() or None
    text = unicodedata.normalize("NFC", str(value)).strip()
    return text or None


def _describe_format(fmt: str) -> str:
    return (fmt.replace("%d", "DD").replace("%m", "MM").replace("%Y", "YYYY")
            .replace("%y", "YY").replace("%H", "hh").replace("%M", "mm").replace("%S", "ss"))


def date_converters(fmt: str | None) -> tuple[Inbound, Outbound]:
    # strptime is slow (~12 µs) and sources repeat dates a lot: remember recent texts.
    @lru_cache(maxsize=32_768)
    def parse_text(text: str) -> dt.date:
        if fmt is None:
            return dt.date.fromisoformat(text[:10])
        return dt.datetime.strptime(text, fmt).date()

    def parse(value: Any) -> dt.date | None:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        text = clean_text(value)
        if text is None:
            return None
        try:
            return parse_text(text)
        except ValueError:
            expected = _describe_format(fmt) if fmt else "YYYY-MM-DD"
            raise MappingError(f"not a valid date (expected {expected})") from None

    def render(value: Any) -> Any:
        if value is None or fmt is None:
            return value.isoformat() if isinstance(value, dt.date) else value
        return value.strftime(fmt)

    return parse, render


def datetime_converters(fmt: str | None) -> tuple[Inbound, Outbound]:
    @lru_cache(maxsize=32_768)
    def parse_text(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text) if fmt is None else dt.datetime.strptime(text, fmt)

    def parse(value: Any) -> dt.datetime | None:
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, dt.date):
            return dt.datetime.combine(value, dt.time())
        text = clean_text(value)
        if text is None:
            return None
        try:
            return parse_text(text)
        except ValueError:
            expected = _describe_format(fmt) if fmt else "ISO 8601"
            raise MappingError(f"not a valid date and time (expected {expected})") from None

    def render(value: Any) -> Any:
        if value is None:
            return None
        return value.strftime(fmt) if fmt else value.isoformat()

    return parse, render


def decimal_converters(decimal_comma: bool) -> tuple[Inbound, Outbound]:
    def parse(value: Any) -> Decimal | None:
        if isinstance(value, (int, Decimal)):
            return Decimal(value)
        if isinstance(value, float):
            return Decimal(str(value))
        text = clean_text(value)
        if text is None:
            return None
        if decimal_comma:
            text = text.replace(".", "").replace(" ", "").replace(",", ".")
        else:
            text = text.replace(",", "").replace(" ", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise MappingError("not a number") from None
        if not number.is_finite():
            raise MappingError("not a finite number")
        return number

    def render(value: Any) -> Any:
        if value is None:
            return None
        text = format(Decimal(value), "f")
        return text.replace(".", ",") if decimal_comma else text

    return parse, render


def int_converters() -> tuple[Inbound, Outbound]:
    def parse(value: Any) -> int | None:
        if isinstance(value, bool):
            raise MappingError("not a whole number")
        if isinstance(value, int):
            return value
        text = clean_text(value)
        if text is None:
            return None
        try:
            return int(text)
        except ValueError:
            raise MappingError("not a whole number") from None

    return parse, lambda v: v


def bool_converters(true_values: list[str] | None, false_values: list[str] | None
                    ) -> tuple[Inbound, Outbound]:
    trues = {v.casefold() for v in (true_values or _TRUE)}
    falses = {v.casefold() for v in (false_values or _FALSE)}
    true_out = true_values[0] if true_values else True
    false_out = false_values[0] if false_values else False

    def parse(value: Any) -> bool | None:
        if isinstance(value, bool):
            return value
        if value is None:
            return None
        text = str(value).strip().casefold()
        if text in trues:
            return True
        if text in falses:
            return False if text or false_values else None
        raise MappingError("not a yes/no value")

    def render(value: Any) -> Any:
        if value is None:
            return None
        return true_out if value else false_out

    return parse, render


def text_converters(step: Callable[[str], str] | None) -> tuple[Inbound, Outbound]:
    """Clean text (NFC, trimmed, blank as missing), then apply the normalisers' ``step``."""
    def parse(value: Any) -> str | None:
        text = clean_text(value)
        if text is None or step is None:
            return text
        return step(text) or None

    return parse, lambda v: v
