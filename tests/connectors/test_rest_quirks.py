"""The REST (and SCIM) connector against a quirky real HTTP server on 127.0.0.1
(tests/connectors/quirky_server.py): capped pages, 429 with Retry-After, a timeout after
the commit, bursts of 500s, HTML error pages, redirects off the base URL.

Retries wait through ``client.sleep``, replaced here by a recorder: the waits a policy
asks for are checked without spending them.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import ValidationError

from connectors.base import StreamSpec
from connectors.rest import RestConnector, RestSettings
from connectors.scim import ScimConnector, ScimSettings
from hub.errors import FatalConnectorError, RetriableConnectorError
from tests.connectors.quirky_server import (
    BASE,
    CLIENT,
    HTML_502,
    PAGE_CAP,
    PAGE_SECRET,
    TOKEN,
    Fault,
    QuirkyServer,
    quirky,
)

SPEC = StreamSpec("/customers", ("id",))
KEY = "Idempotency-Key"
#: Realistic waits (seconds): only recorded, never slept.
POLICY = {"attempts": 5, "backoff": 0.5, "max_backoff": 4, "max_retry_after": 120}


@pytest.fixture
def server() -> Iterator[QuirkyServer]:
    with quirky() as srv:
        yield srv


@pytest.fixture
def other() -> Iterator[QuirkyServer]:
    """A second server on another port of 127.0.0.1."""
    with quirky() as srv:
        yield srv


def api(server: QuirkyServer, waits: list[float] | None = None,
        sleep: Callable[[float], None] | None = None, **settings: Any) -> RestConnector:
    """A connector for the quirky API; its retries record their waits in ``waits``."""
    settings.setdefault("retry", POLICY)
    settings.setdefault("auth", "bearer")
    if settings["auth"] == "bearer":
        settings.setdefault("token", TOKEN)
    settings.setdefault("base_url", server.url)
    resources = {"/customers": {"records_path": "items", "write_method": "POST",
                                "pagination": {"style": "page", "page_size": 50}}}
    conn = RestConnector(RestSettings(resources=resources, **settings), system="crm",
                         base_dir=Path("."))
    conn.client.sleep = sleep or (waits.append if waits is not None else _no_sleep)
    return conn


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected retry wait of {seconds} s")


def names(conn: RestConnector) -> list[str]:
    return [r.data["name"] for b in conn.read(SPEC) for r in b.records]


# --- capped page size ------------------------------------------------------------------


def test_capped_page_size_reads_every_record(server: QuirkyServer) -> None:
    server.state.seed(25)
    with api(server) as conn:
        assert names(conn) == [f"Customer {i}" for i in range(1, 26)]
    # 50 asked, 10 given: short pages are not the end, the empty fourth one is.
    assert [(s.query["page"], s.query["per_page"]) for s in server.state.log] == [
        ("1", "50"), ("2", "50"), ("3", "50"), ("4", "50")]
    assert PAGE_CAP == 10


def test_scim_lookup_follows_a_capped_list_and_creates_no_duplicate(
        server: QuirkyServer) -> None:
    server.state.seed_users(15)
    conn = ScimConnector(ScimSettings(base_url=server.origin + "/scim/v2", token=TOKEN),
                         system="idp", base_dir=Path("."))
    records = [{"externalId": f"e{i:03d}", "userName": f"user{i}"} for i in range(1, 16)]
    with conn:
        result = conn.write(StreamSpec("Users", ("externalId",)), records)
    assert result.written == 15 and not result.rejected
    # 30 asked, 10 per page given: the lookup reads on to totalResults (15) ...
    assert [s.query["startIndex"] for s in server.state.requests("GET")] == ["1", "11"]
    # ... so every user is found, unchanged, and nothing is created twice.
    assert server.state.requests("POST") == [] and server.state.requests("PUT") == []


# --- 429 with Retry-After --------------------------------------------------------------


def test_429_retry_after_seconds_is_waited_exactly(server: QuirkyServer) -> None:
    server.state.seed(2)
    server.state.rate_limit("7")
    waits: list[float] = []
    with api(server, waits) as conn:
        assert names(conn) == ["Customer 1", "Customer 2"]
    assert waits == [7.0]
    assert len(server.state.requests("GET")) == 3  # the refused try, page 1, empty page 2


def test_429_retry_after_http_date_is_waited_until_then(server: QuirkyServer) -> None:
    server.state.seed(1)
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    server.state.rate_limit(email.utils.format_datetime(when, usegmt=True))
    waits: list[float] = []
    with api(server, waits) as conn:
        assert names(conn) == ["Customer 1"]
    [wait] = waits
    assert 27 < wait <= 30


def test_retry_after_beyond_the_cap_gives_up_at_once(server: QuirkyServer) -> None:
    server.state.rate_limit("600")
    waits: list[float] = []
    with api(server, waits) as conn, pytest.raises(RetriableConnectorError) as err:
        names(conn)
    assert "retry after 600 s (more than retry.max_retry_after, 120 s)" in str(err.value)
    assert waits == [] and len(server.state.log) == 1


def test_post_refused_with_429_is_sent_again_after_the_wait(server: QuirkyServer) -> None:
    server.state.rate_limit("3")
    waits: list[float] = []
    with api(server, waits) as conn:
        result = conn.write(SPEC, [{"id": "a", "name": "Ann"}])
    assert result.written == 1 and waits == [3.0]
    assert len(server.state.requests("POST")) == 2 and len(server.state.customers) == 1


# --- bursts of 500s --------------------------------------------------------------------


def test_burst_of_500s_is_ridden_out_with_full_jitter(server: QuirkyServer) -> None:
    server.state.seed(1)
    server.state.burst(3)
    waits: list[float] = []
    with api(server, waits) as conn:
        assert names(conn) == ["Customer 1"]
    assert len(server.state.requests("GET")) == 3 + 2
    ceilings = [0.5, 1.0, 2.0]  # backoff * 2^(try-1), at most max_backoff
    assert len(waits) == 3
    assert all(0 <= w <= c for w, c in zip(waits, ceilings, strict=True))
    assert waits != ceilings  # jittered, not the bare exponential


def test_backoff_stops_growing_at_max_backoff(server: QuirkyServer) -> None:
    server.state.burst(8)
    waits: list[float] = []
    with api(server, waits, retry={**POLICY, "attempts": 8, "max_backoff": 1.5}) as conn, \
            pytest.raises(RetriableConnectorError, match="HTTP 500 .* after 8 tries"):
        conn.check()
    assert len(waits) == 7 and max(waits) <= 1.5  # 0.5 * 2^6 = 32 uncapped


def test_burst_longer_than_the_tries_is_retriable(server: QuirkyServer) -> None:
    server.state.burst(10)
    waits: list[float] = []
    with api(server, waits) as conn, pytest.raises(
            RetriableConnectorError,
            match=r"crm: GET /api/v1/customers: HTTP 500 Internal Server Error after 5 tries"):
        names(conn)
    assert len(server.state.log) == 5 and len(waits) == 4  # bounded: exactly the attempts


def test_post_in_a_burst_is_sent_once_without_a_key(server: QuirkyServer) -> None:
    server.state.burst(3)
    with api(server) as conn, pytest.raises(RetriableConnectorError) as err:
        conn.write(SPEC, [{"id": "a", "name": "Ann"}])
    assert "not repeated now (POST is not idempotent and carries no idempotency key)" \
        in str(err.value)
    [post] = server.state.requests("POST")
    assert KEY not in post.headers  # off by default: no key the server might ignore


def test_post_in_a_burst_with_a_key_is_retried_and_created_once(server: QuirkyServer) -> None:
    server.state.honour_keys = True
    server.state.burst(2)
    waits: list[float] = []
    with api(server, waits, idempotency_key_header=KEY) as conn:
        result = conn.write(SPEC, [{"id": "a", "name": "Ann"}, {"id": "b", "name": "Bo"}])
    assert result.written == 2 and len(waits) == 2
    keys = [s.headers[KEY] for s in server.state.requests("POST")]
    assert len(keys) == 4 and keys[0] == keys[1] == keys[2] != keys[3]  # one per write
    assert sorted(c["name"] for c in server.state.customers.values()) == ["Ann", "Bo"]


# --- a timeout after the commit --------------------------------------------------------


def test_timeout_after_commit_without_a_key_creates_no_duplicate(server: QuirkyServer) -> None:
    server.state.stall = 0.6  # stored, then the answer is late
    with api(server, read_timeout=0.2) as conn, \
            pytest.raises(RetriableConnectorError, match="ReadTimeout.*not repeated"):
        conn.write(SPEC, [{"id": "a", "name": "Ann"}])
    assert len(server.state.requests("POST")) == 1
    assert [c["name"] for c in server.state.customers.values()] == ["Ann"]


def test_timeout_after_commit_with_a_key_is_deduplicated(server: QuirkyServer) -> None:
    server.state.honour_keys = True
    server.state.stall = 0.6
    waits: list[float] = []
    with api(server, waits, read_timeout=0.2, idempotency_key_header=KEY) as conn:
        result = conn.write(SPEC, [{"id": "a", "name": "Ann"}])
    # A busy server may not have committed the first try when the second arrives: that
    # one is then told 409 (in progress) and waits once more; all tries carry one key.
    assert result.written == 1 and len(waits) >= 1
    posts = server.state.requests("POST")
    assert len(posts) == len(waits) + 1 and len({p.headers[KEY] for p in posts}) == 1
    assert [c["name"] for c in server.state.customers.values()] == ["Ann"]


def test_a_key_ignored_by_the_server_would_duplicate(server: QuirkyServer) -> None:
    """Why the key is off by default: a server that ignores it acts on every repeat."""
    server.state.stall = 0.6  # honour_keys stays False
    with api(server, [], read_timeout=0.2, idempotency_key_header=KEY,
             retry={**POLICY, "attempts": 3}) as conn, \
            pytest.raises(RetriableConnectorError, match="ReadTimeout after 3 tries"):
        conn.write(SPEC, [{"id": "a", "name": "Ann"}])
    assert [c["name"] for c in server.state.customers.values()] == ["Ann"] * 3


def test_retry_while_the_first_is_in_progress_waits_out_the_409(server: QuirkyServer) -> None:
    server.state.honour_keys = True
    gate = server.state.commit_gate = threading.Event()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:  # after the 409: let the first try commit and answer
            gate.set()
            deadline = time.monotonic() + 5
            while not server.state.customers and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.05)

    with api(server, sleep=sleep, read_timeout=0.2, idempotency_key_header=KEY) as conn:
        result = conn.write(SPEC, [{"id": "a", "name": "Ann"}])
    assert result.written == 1 and not result.rejected
    # timed out before the commit; 409 "in progress"; then the first outcome
    assert len(server.state.requests("POST")) == 3
    assert [c["name"] for c in server.state.customers.values()] == ["Ann"]


def test_409_on_a_first_try_is_an_answer_not_a_retry(server: QuirkyServer) -> None:
    server.state.faults.append(Fault(409, '{"error": "exists"}'))
    with api(server, idempotency_key_header=KEY) as conn:
        result = conn.write(SPEC, [{"id": "a", "name": "Ann"}])
    assert [p.reason for _, p in result.rejected] == ["HTTP 409 Conflict"]
    assert len(server.state.requests("POST")) == 1


def test_idempotency_key_header_must_be_a_header_name() -> None:
    assert RestSettings(base_url="http://x").idempotency_key_header is None
    with pytest.raises(ValidationError) as err:
        RestSettings(base_url="http://x", idempotency_key_header="Idempotency Key")
    assert err.value.errors()[0]["loc"] == ("idempotency_key_header",)


# --- HTML error pages ------------------------------------------------------------------


def test_html_502_pages_give_a_plain_message(server: QuirkyServer) -> None:
    server.state.html_error(5)
    with api(server, []) as conn, pytest.raises(RetriableConnectorError) as err:
        names(conn)
    message = str(err.value)
    assert message == "crm: GET /api/v1/customers: HTTP 502 Bad Gateway after 5 tries"
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_html_page_instead_of_json_is_named_not_quoted(server: QuirkyServer) -> None:
    with api(server, base_url=server.origin + "/sso") as conn, \
            pytest.raises(FatalConnectorError) as err:
        names(conn)
    message = str(err.value)
    assert message.startswith("crm: GET /customers page 1: the answer is not JSON (text/html, ")
    assert PAGE_SECRET not in message and "<" not in message
    scim = ScimConnector(ScimSettings(base_url=server.origin + "/sso", token=TOKEN),
                         system="idp", base_dir=Path("."))
    with scim, pytest.raises(FatalConnectorError, match=r"not JSON \(text/html, \d+ bytes\)"):
        scim.check()


def test_html_error_on_a_write_is_a_record_problem_without_the_page(
        server: QuirkyServer) -> None:
    server.state.faults.append(Fault(400, HTML_502, "text/html"))
    with api(server) as conn:
        result = conn.write(SPEC, [{"id": "a", "name": "Ann"}, {"id": "b", "name": "Bo"}])
    [(key, problem)] = result.rejected
    assert key == "a" and problem.reason == "HTTP 400 Bad Request"
    assert PAGE_SECRET not in problem.describe() and result.written == 1


# --- credentials stay under the base URL -----------------------------------------------


TENANT = {"X-Tenant-Key": "tenant-secret-value"}


def test_redirect_off_the_base_path_is_not_followed(server: QuirkyServer) -> None:
    server.state.redirects[f"{BASE}/customers"] = "/internal/customers?token=abc"
    with api(server, headers=TENANT) as conn, pytest.raises(FatalConnectorError) as err:
        names(conn)
    message = str(err.value)
    assert "HTTP 301 redirect outside the base path" in message
    assert f"({server.origin}/internal/customers)" in message and "abc" not in message
    assert [s.path for s in server.state.log] == [f"{BASE}/customers"]


def test_redirect_to_another_port_is_not_followed(server: QuirkyServer,
                                                  other: QuirkyServer) -> None:
    server.state.redirects[f"{BASE}/customers"] = f"{other.url}/customers"
    with api(server, headers=TENANT) as conn, \
            pytest.raises(FatalConnectorError, match="redirect on another origin"):
        names(conn)
    assert other.state.log == []  # neither the token nor the tenant key went there


def test_redirect_under_the_base_path_is_not_followed_either(server: QuirkyServer) -> None:
    server.state.redirects[f"{BASE}/customers"] = f"{BASE}/customers/"
    with api(server) as conn, pytest.raises(FatalConnectorError) as err:
        conn.write(SPEC, [{"id": "a", "name": "Ann"}])
    assert f"HTTP 301 redirect to {server.url}/customers/: not followed" in str(err.value)
    assert len(server.state.log) == 1 and server.state.customers == {}


def test_plain_requests_would_leak_on_these_redirects(server: QuirkyServer,
                                                      other: QuirkyServer) -> None:
    """The control: what the server can see when a client follows redirects."""
    server.state.redirects[f"{BASE}/a"] = f"{other.url}/customers"
    server.state.redirects[f"{BASE}/b"] = "/internal/customers"
    sent = {"Authorization": f"Bearer {TOKEN}", **TENANT}
    requests.get(f"{server.url}/a", headers=sent, timeout=5)
    requests.get(f"{server.url}/b", headers=sent, timeout=5)
    [elsewhere] = other.state.log  # another port: the tenant key went along
    assert elsewhere.headers.get("X-Tenant-Key") == TENANT["X-Tenant-Key"]
    [internal] = server.state.requests(path="/internal/customers")  # another path: all
    assert internal.headers.get("Authorization") == f"Bearer {TOKEN}"


def test_token_endpoint_on_another_origin_gets_no_api_headers(server: QuirkyServer,
                                                              other: QuirkyServer) -> None:
    other.token_for.append(server)  # ``other`` is the identity provider
    server.state.seed(3)
    with api(server, auth="oauth2", token_url=f"{other.origin}/oauth/token",
             client_id=CLIENT[0], client_secret=CLIENT[1], headers=TENANT) as conn:
        assert len(names(conn)) == 3
    [token_call] = other.state.log
    assert token_call.path == "/oauth/token" and "X-Tenant-Key" not in token_call.headers
    assert token_call.headers["Authorization"].startswith("Basic ")
    gets = server.state.requests("GET")
    assert {s.headers["Authorization"] for s in gets} == {"Bearer idp-token-1"}
    assert {s.headers["X-Tenant-Key"] for s in gets} == {TENANT["X-Tenant-Key"]}
