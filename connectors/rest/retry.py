"""The retry policy of the HTTP connectors, built on tenacity: bounded tries, exponential
backoff with full jitter, and the wait a server asks for (``Retry-After``) honoured up to
a limit.

A try that may be repeated raises :class:`Transient`; anything else it raises or returns
ends the retries at once. When the tries run out, or the server asks for a longer wait
than ``max_retry_after``, the failure becomes a ``RetriableConnectorError`` (the hub runs
the call again later).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Callable
from typing import TypeVar

import requests
import tenacity
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from connectors.rest.settings import Retry
from hub.errors import RetriableConnectorError

T = TypeVar("T")

__all__ = ["Transient", "retry_after", "retrying", "wait_retry_after"]


class Transient(Exception):
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
        return None  # neither form (RFC 9110 §10.2.3): fall back to our own backoff
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)


def _asked(state: tenacity.RetryCallState) -> float | None:
    """The wait the last failed try's server asked for."""
    exc = state.outcome.exception() if state.outcome else None
    return exc.wait if isinstance(exc, Transient) else None


class wait_retry_after(wait_base):  # named like tenacity's own
    """The server's ``Retry-After`` when the failed try carried one, else ``fallback``."""

    def __init__(self, fallback: wait_base):
        self.fallback = fallback

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        asked = _asked(retry_state)
        return self.fallback(retry_state) if asked is None else asked


class stop_when_asked_beyond(stop_base):
    """Give up at once when the server asks for a longer wait than ``limit``: waiting that
    long would hold the run, and retrying sooner only earns another refusal."""

    def __init__(self, limit: float):
        self.limit = limit

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        asked = _asked(retry_state)
        return asked is not None and asked > self.limit


def retrying(attempt: Callable[[], T], policy: Retry, where: str,
             sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``attempt()`` until it returns, raises something other than
    :class:`Transient`, or the policy gives up; ``sleep`` is injectable for tests."""
    controller = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Transient),
        stop=tenacity.stop_after_attempt(policy.attempts)
        | stop_when_asked_beyond(policy.max_retry_after),
        # Full jitter: uniform in [0, min(max_backoff, backoff * 2^(try-1))].
        wait=wait_retry_after(tenacity.wait_random_exponential(
            multiplier=policy.backoff, max=policy.max_backoff)),
        sleep=sleep)
    try:
        return controller(attempt)
    except tenacity.RetryError as failed:
        last = failed.last_attempt
        exc = last.exception()
        assert isinstance(exc, Transient)  # only Transient is retried
        if exc.wait is not None and exc.wait > policy.max_retry_after:
            raise RetriableConnectorError(
                f"{where}: {exc.reason}; the server asks to retry after {exc.wait:.0f} s "
                f"(more than retry.max_retry_after, {policy.max_retry_after:g} s)") from None
        raise RetriableConnectorError(
            f"{where}: {exc.reason} after {last.attempt_number} tries") from None
