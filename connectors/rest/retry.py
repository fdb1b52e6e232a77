"""The one retry loop of the HTTP connectors: bounded tries, exponential backoff with full
jitter, and the wait a server asks for (``Retry-After``) honoured.

A try that may be repeated raises :class:`TryAgain`; anything else it raises or returns
ends the loop at once. When the tries run out the failure becomes a
``RetriableConnectorError`` (the hub runs the call again later).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import time
from collections.abc import Callable
from typing import TypeVar

import requests

from connectors.rest.settings import Retry
from hub.errors import RetriableConnectorError

T = TypeVar("T")


class TryAgain(Exception):
    """This try failed transiently; ``wait`` is what the server asked for, if anything."""

    def __init__(self, reason: str, wait: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


def retry_after(response: requests.Response) -> float | None:
    """Seconds the server asks us to wait (delta-seconds or an HTTP date), if it says."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)


def backoff(policy: Retry, attempt: int) -> float:
    """Full jitter: uniform in [0, min(max_backoff, backoff * 2^(attempt-1))]."""
    ceiling = min(policy.max_backoff, policy.backoff * 2 ** (attempt - 1))
    return random.uniform(0, ceiling)  # spreads a crowd of clients


def retrying(attempt: Callable[[int], T], policy: Retry, where: str,
             sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``attempt(n)`` for n = 1, 2, … until it returns, raises something other than
    :class:`TryAgain`, or ``policy.attempts`` tries are used up."""
    for n in range(1, policy.attempts + 1):
        try:
            return attempt(n)
        except TryAgain as exc:
            if n == policy.attempts:
                raise RetriableConnectorError(f"{where}: {exc.reason} after {n} tries") from None
            if exc.wait is not None:
                if exc.wait > policy.max_retry_after:
                    raise RetriableConnectorError(
                        f"{where}: {exc.reason}; the server asks to retry after "
                        f"{exc.wait:.0f} s") from None
                sleep(exc.wait)
            else:
                sleep(backoff(policy, n))
    raise AssertionError("unreachable")  # policy.attempts >= 1: the loop returns or raises
