"""The REST connector against a real HTTP server on 127.0.0.1 (tests/connectors/rest_server)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import ReadBatch, StreamSpec
from connectors.rest import RestConnector, RestSettings
from hub.errors import FatalConnectorError, RetriableConnectorError
from tests.connectors.rest_server import CLIENT_ID, CLIENT_SECRET, Server, running

FAST = {"attempts": 3, "backoff": 0.01, "max_backoff": 0.05}
PAGED = {  # each style's own pagination, 3 records a page
    "page": {"records_path": "data.items", "pagination": {"style": "page", "page_size": 3}},
    "offset": {"records_path": "results", "pagination": {"style": "offset", "page_size": 3,
                                                          "total_path": "total"}},
    "cursor": {"records_path": "data", "pagination": {
        "style": "cursor", "page_size": 3, "cursor_path": "meta.next"}},
    "link": {"pagination": {"style": "link"}, "params": {"limit": "3"}},
    "plain": {},
}


@pytest.fixture
def server() -> Iterator[Server]:
    with running() as srv:
        yield srv


def rest(server: Server, **settings: Any) -> RestConnector:
    settings.setdefault("retry", FAST)
    resources = {f"/{style}/customers": opts for style, opts in PAGED.items()}
    return RestConnector(RestSettings(base_url=server.url, resources=resources, **settings),
                         system="crm", base_dir=Path("."))


def spec(style: str = "plain", cursor: str | None = None) -> StreamSpec:
    return StreamSpec(f"/{style}/customers", ("id",), cursor_field=cursor)


def ids(batches: list[ReadBatch]) -> list[str]:
    return [r.data["id"] for b in batches for r in b.records]


@pytest.mark.parametrize(("style", "calls"), [
    ("page", 4), ("offset", 3), ("cursor", 3), ("link", 3), ("plain", 1)])
def test_every_pagination_style_reads_each_record_once(server: Server, style: str,
                                                       calls: int) -> None:
    server.state.seed(7)
    with rest(server) as conn:
        batches = list(conn.read(spec(style), batch_size=4))
    assert ids(batches) == [f"c{i:03d}" for i in range(1, 8)]
    assert [len(b.records) for b in batches] == [4, 3]  # batches are cut across pages
    assert len(server.state.requests("GET")) == calls
    assert batches[0].records[0].data["address.city"] == "Köln"  # nested → dotted name


def test_page_and_offset_parameters_sent(server: Server) -> None:
    server.state.seed(4)
    with rest(server) as conn:
        list(conn.read(spec("page")))
        list(conn.read(spec("offset")))
    got = [s.query for s in server.state.log]
    # page: a short page is not the end (the API may cap the size), an empty one is;
    # offset: the reported total (total_path) ends the read without an empty page.
    assert got == [{"per_page": "3", "page": "1"}, {"per_page": "3", "page": "2"},
                   {"per_page": "3", "page": "3"},
                   {"limit": "3", "offset": "0"}, {"limit": "3", "offset": "3"}]
    locations = [s.path for s in server.state.log]
    assert locations == ["/page/customers"] * 3 + ["/offset/customers"] * 2


def test_record_location_names_page_and_position(server: Server) -> None:
    server.state.seed(4)
    with rest(server) as conn:
        [batch] = list(conn.read(spec("page")))
    assert [r.location for r in batch.records][-1] == "/page/customers:page 2 record 1"


@pytest.mark.parametrize(("auth", "settings", "header", "value"), [
    ("basic", {"username": "kontor", "password": "right"}, "Authorization",
     "Basic a29udG9yOnJpZ2h0"),
    ("bearer", {"token": "right"}, "Authorization", "Bearer right"),
    ("api_key", {"api_key": "right"}, "X-API-Key", "right"),
])
def test_auth_schemes_send_their_header_and_bad_ones_are_fatal(
        server: Server, auth: str, settings: dict[str, str], header: str, value: str) -> None:
    server.state.auth, server.state.secret = auth, "right"
    server.state.seed(2)
    with rest(server, auth=auth, **settings) as conn:
        assert ids(list(conn.read(spec()))) == ["c001", "c002"]
    assert server.state.log[0].headers[header] == value
    wrong = {k: ("wrong-secret-value" if k != "username" else v) for k, v in settings.items()}
    with rest(server, auth=auth, **wrong) as conn, pytest.raises(FatalConnectorError) as err:
        list(conn.read(spec()))
    assert "401" in str(err.value) and "wrong-secret-value" not in str(err.value)
    assert len(server.state.log) == 2  # a refused credential is not retried


def oauth(server: Server, secret: str = CLIENT_SECRET) -> RestConnector:
    server.state.auth = "oauth2"
    return rest(server, auth="oauth2", token_url="/oauth/token", client_id=CLIENT_ID,
                client_secret=secret, scope="customers")


def test_oauth2_token_is_cached_and_refreshed_once_after_401(server: Server) -> None:
    server.state.seed(7)
    with oauth(server) as conn:
        list(conn.read(spec("page")))
        assert server.state.issued == 1  # four pages (the last empty), one token
        [token_call] = server.state.requests("POST", "/oauth/token")
        assert token_call.body == "grant_type=client_credentials&scope=customers"
        assert {s.headers["Authorization"] for s in server.state.requests("GET")} == \
            {"Bearer tok-1"}
        server.state.tokens.clear()  # the server revokes every token
        assert len(ids(list(conn.read(spec())))) == 7
    assert server.state.issued == 2
    assert [s.headers.get("Authorization") for s in server.state.requests("GET")][-2:] == \
        ["Bearer tok-1", "Bearer tok-2"]


def test_oauth2_expired_token_is_renewed_before_use(server: Server) -> None:
    server.state.token_lifetime = 1  # within the renewal margin: renewed before each use
    server.state.seed(7)
    with oauth(server) as conn:
        list(conn.read(spec("offset")))
    assert server.state.issued == 3 == len(server.state.requests("GET"))


def test_oauth2_refused_client_is_fatal_without_the_secret(server: Server) -> None:
    with oauth(server, secret="not-the-client-secret") as conn, \
            pytest.raises(FatalConnectorError, match="token endpoint") as err:
        list(conn.read(spec()))
    assert "not-the-client-secret" not in str(err.value)
    assert server.state.requests("GET") == []


def test_429_waits_what_retry_after_asks(server: Server) -> None:
    server.state.seed(1)
    server.state.faults = [(429, {"Retry-After": "9"})]
    waits: list[float] = []
    with rest(server) as conn:
        conn.client.sleep = waits.append  # recorded, not spent
        assert ids(list(conn.read(spec()))) == ["c001"]
    assert waits == [9.0]
    assert len(server.state.requests("GET")) == 2


def test_flaky_503_is_retried_then_succeeds(server: Server) -> None:
    server.state.seed(1)
    server.state.faults = [(503, {}), (503, {})]
    with rest(server) as conn:
        assert ids(list(conn.read(spec()))) == ["c001"]
    assert len(server.state.requests("GET")) == 3


def test_503_beyond_the_attempts_is_retriable(server: Server) -> None:
    server.state.faults = [(503, {})] * 5
    with rest(server) as conn, pytest.raises(RetriableConnectorError, match="503.*3 tries"):
        list(conn.read(spec()))
    assert len(server.state.log) == 3  # bounded: exactly the configured attempts


def test_retry_after_beyond_the_limit_gives_up_at_once(server: Server) -> None:
    server.state.faults = [(503, {"Retry-After": "3600"})]
    with rest(server) as conn, pytest.raises(RetriableConnectorError, match="3600"):
        list(conn.read(spec()))
    assert len(server.state.log) == 1


def test_unreachable_server_is_retriable(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = RestConnector(RestSettings(base_url=f"http://127.0.0.1:{port}", retry=FAST),
                         system="crm", base_dir=tmp_path)
    with conn, pytest.raises(RetriableConnectorError, match="ConnectionError after 3 tries"):
        conn.check()


def test_silent_server_times_out(tmp_path: Path) -> None:
    with socket.socket() as sock:  # accepts the connection (backlog) but never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        conn = RestConnector(RestSettings(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
                                          read_timeout=0.2, retry={**FAST, "attempts": 2}),
                             system="crm", base_dir=tmp_path)
        started = time.monotonic()
        with conn, pytest.raises(RetriableConnectorError, match="ReadTimeout after 2 tries"):
            conn.check()
    assert time.monotonic() - started < 5


def test_incremental_read_by_query_parameter(server: Server) -> None:
    server.state.seed(5)
    with rest(server, defaults={"since_param": "updated_since"}) as conn:
        first = list(conn.read(spec(cursor="updated_at"), batch_size=2))
        assert [b.cursor for b in first[:-1]] == [None, None]  # only the end proves the max
        cursor = first[-1].cursor
        assert cursor == "2024-05-01T10:00:05Z"
        conn.write(spec(), [{"id": "c002", "name": "Changed"}])
        changed = list(conn.read(spec(cursor="updated_at"), since=cursor))
        assert ids(changed) == ["c002"] and changed[-1].cursor > cursor
        assert server.state.requests("GET")[-1].query == {"updated_since": cursor}
        assert list(conn.read(spec(cursor="updated_at"), since=changed[-1].cursor)) == []


def test_incremental_without_server_filter_drops_unchanged_records(server: Server) -> None:
    server.state.seed(5)
    with rest(server) as conn:
        changed = list(conn.read(spec(cursor="updated_at"), since="2024-05-01T10:00:03Z"))
    assert ids(changed) == ["c004", "c005"] and changed[-1].cursor == "2024-05-01T10:00:05Z"


def test_write_upserts_and_rejects_one_record_without_its_values(server: Server) -> None:
    batch = [{"id": "k1", "name": "Zoë Ødegård", "address.city": "Oslo"},
             {"id": "k2", "name": "王小明", "email": "secret-value-no-at"},
             {"id": "a/b|c ü", "name": "Müller-Lüdenscheid 🎉"}]
    with rest(server) as conn:
        result = conn.write(spec(), batch)
        before = dict(server.state.customers)
        again = conn.write(spec(), batch)
    assert result.written == 2 and again.written == 2
    [(key, problem)] = result.rejected
    assert key == "k2" and problem.reason == "HTTP 422 Unprocessable Entity"
    assert "secret-value" not in problem.describe()
    assert server.state.customers == before  # re-sending changed nothing
    assert server.state.customers["k1"]["address"] == {"city": "Oslo"}  # dotted → nested
    assert "a/b|c ü" in server.state.customers
    paths = [s.path for s in server.state.requests("PUT")][:3]
    assert paths == ["/plain/customers/k1", "/plain/customers/k2",
                     "/plain/customers/a%2Fb%7Cc%20%C3%BC"]


def test_dot_keys_are_refused_not_sent_to_the_collection(server: Server) -> None:
    with rest(server) as conn:
        result = conn.write(spec(), [{"id": "..", "name": "dots"}, {"id": "k.", "name": "ok"}])
        deleted = conn.delete(spec(), ["."])
    assert result.written == 1 and [k for k, _ in result.rejected] == [".."]
    assert "cannot name an item" in result.rejected[0][1].reason
    assert deleted.written == 0 and len(deleted.rejected) == 1
    assert [s.path for s in server.state.log] == ["/plain/customers/k."]


def test_write_by_post_and_missing_key_rejected(server: Server) -> None:
    with rest(server, defaults={"write_method": "POST"}) as conn:
        result = conn.write(spec(), [{"id": "p1", "name": "Post"}, {"name": "no key"}])
    assert result.written == 1 and result.rejected[0][0] == "#2"
    assert result.rejected[0][1].field == "id"
    [post] = server.state.requests("POST")
    assert post.path == "/plain/customers" and post.body == {"id": "p1", "name": "Post"}


def test_write_5xx_is_retried_then_retriable(server: Server) -> None:
    server.state.faults = [(500, {})] * 3
    with rest(server) as conn, pytest.raises(RetriableConnectorError, match="500"):
        conn.write(spec(), [{"id": "x", "name": "x"}])
    assert len(server.state.requests("PUT")) == 3 and server.state.customers == {}


def test_delete_is_idempotent(server: Server) -> None:
    server.state.seed(3)
    with rest(server) as conn:
        result = conn.delete(spec(), ["c001", ("c002",), "gone"])
    assert result.written == 3 and not result.rejected
    assert list(server.state.customers) == ["c003"]


def test_redirect_missing_resource_and_foreign_next_link_are_fatal(server: Server) -> None:
    server.state.seed(7)
    with rest(server) as conn:
        with pytest.raises(FatalConnectorError, match="301 redirect to .*: not followed"):
            list(conn.read(StreamSpec("/moved", ("id",))))
        with pytest.raises(FatalConnectorError, match="404"):
            list(conn.read(StreamSpec("/nothing/here", ("id",))))
    foreign = RestSettings(base_url=server.url, retry=FAST, auth="bearer", token="right",
                           resources={"/link/customers": {"pagination": {"style": "link"},
                                                          "params": {"evil": "1"}}})
    before = len(server.state.log)
    with RestConnector(foreign, system="crm", base_dir=Path(".")) as conn, \
            pytest.raises(FatalConnectorError, match="another origin") as refused:
        list(conn.read(spec("link")))
    assert len(server.state.log) == before + 1  # the credentials never went to localhost
    assert "right" not in str(refused.value)


def test_non_object_records_become_problems(server: Server) -> None:
    server.state.seed(1)
    server.state.customers["c002"] = "just text"  # type: ignore[assignment]
    with rest(server) as conn:
        [batch] = list(conn.read(StreamSpec("/plain/customers", ("id",))))
    assert ids([batch]) == ["c001"]
    assert [p.location for p in batch.problems] == ["/plain/customers:page 1 record 2"]


def test_discover_and_check(server: Server) -> None:
    server.state.seed(3)
    server.state.auth = "bearer"
    with rest(server, auth="bearer", token="right") as conn:
        conn.check()
        [found] = conn.discover(spec("page"))
    assert {f["name"]: f["type"] for f in found["fields"]} == {
        "id": "string", "name": "string", "address.city": "string", "updated_at": "string"}
    with rest(server, auth="bearer", token="nope") as conn, pytest.raises(FatalConnectorError):
        conn.check()


def test_settings_validate_all_at_once_and_hide_secrets() -> None:
    with pytest.raises(ValidationError) as err:
        RestSettings(base_url="ftp://user:pw-in-url@host", auth="oauth2", client_id="c",
                     retyr={})
    assert {e["loc"][0] for e in err.value.errors()} == {"base_url", "auth", "retyr"}
    assert "needs token_url, client_secret" in str(err.value)
    assert "pw-in-url" not in str(err.value)
    with pytest.raises(ValidationError, match="needs token"):
        RestSettings(base_url="http://x", auth="bearer", token="")
    settings = RestSettings(base_url="http://x", auth="bearer", token="tok-very-secret")
    assert "tok-very-secret" not in repr(settings)
    assert "tok-very-secret" not in repr(RestConnector(settings, system="crm",
                                                       base_dir=Path(".")))


def test_registered_as_entry_point() -> None:
    from hub import registry
    assert registry.get("rest") is RestConnector


# --- quirky servers: capped pages, POST after a timeout, next links out of the base path


@pytest.mark.parametrize("style", ["page", "offset"])
@pytest.mark.parametrize("total", [False, True])
def test_capped_page_size_still_reads_everything(server: Server, style: str,
                                                 total: bool) -> None:
    server.state.seed(7)
    server.state.page_cap = 2  # the API answers 2 items whatever per_page/limit asks
    opts = {**PAGED[style], "pagination": {
        **PAGED[style]["pagination"], "page_size": 5,
        "total_path": "total" if total and style == "offset" else None}}
    conn = RestConnector(RestSettings(base_url=server.url, retry=FAST,
                                      resources={f"/{style}/customers": opts}),
                         system="crm", base_dir=Path("."))
    with conn:
        assert ids(list(conn.read(spec(style)))) == [f"c{i:03d}" for i in range(1, 8)]
    # 2+2+2+1 then, without a total, the empty page that proves the end
    assert len(server.state.requests("GET")) == (4 if total and style == "offset" else 5)


def test_page_parameter_ignored_is_fatal_not_endless(server: Server) -> None:
    server.state.seed(3)
    # We send "pg"; the server reads only "page" (fixed at 1): page 1 comes back forever.
    opts = {"records_path": "data.items", "params": {"page": "1"},
            "pagination": {"style": "page", "page_size": 2, "page_param": "pg"}}
    conn = RestConnector(RestSettings(base_url=server.url, retry=FAST,
                                      resources={"/page/customers": opts}),
                         system="crm", base_dir=Path("."))
    with conn, pytest.raises(FatalConnectorError, match="ignores the pg parameter"):
        list(conn.read(spec("page")))
    assert len(server.state.requests("GET")) == 2


def test_post_is_not_repeated_after_a_5xx(server: Server) -> None:
    server.state.faults = [(503, {})] * 3
    with rest(server, defaults={"write_method": "POST"}) as conn, \
            pytest.raises(RetriableConnectorError, match="503") as failed:
        conn.write(spec(), [{"id": "p1", "name": "Post"}])
    assert len(server.state.requests("POST")) == 1  # never a second create
    message = str(failed.value)
    assert "not repeated" in message and "hub retries it later" in message


def test_post_is_not_repeated_after_a_read_timeout_after_commit(server: Server) -> None:
    server.state.stall = {"POST": 0.6}
    with rest(server, read_timeout=0.2, defaults={"write_method": "POST"}) as conn, \
            pytest.raises(RetriableConnectorError, match="ReadTimeout.*not repeated"):
        conn.write(spec(), [{"id": "p1", "name": "Post"}])
    assert len(server.state.requests("POST")) == 1
    assert list(server.state.customers) == ["p1"]  # it did arrive: a retry would duplicate


def test_put_is_repeated_after_a_read_timeout(server: Server) -> None:
    server.state.stall = {"PUT": 0.6}
    with rest(server, read_timeout=0.2) as conn, \
            pytest.raises(RetriableConnectorError, match="ReadTimeout after 3 tries"):
        conn.write(spec(), [{"id": "x", "name": "x"}])
    assert len(server.state.requests("PUT")) == 3  # idempotent: repeating is harmless


def test_post_is_repeated_after_429_with_retry_after(server: Server) -> None:
    server.state.faults = [(429, {"Retry-After": "0"})]
    with rest(server, defaults={"write_method": "POST"}) as conn:
        result = conn.write(spec(), [{"id": "p1", "name": "Post"}])
    assert result.written == 1 and len(server.state.requests("POST")) == 2


def test_post_is_repeated_when_the_connection_is_refused(tmp_path: Path) -> None:
    with socket.socket() as sock:  # nobody listens: the request never left
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = RestConnector(RestSettings(base_url=f"http://127.0.0.1:{port}", retry=FAST,
                                      defaults={"write_method": "POST"}),
                         system="crm", base_dir=tmp_path)
    with conn, pytest.raises(RetriableConnectorError, match="ConnectionError after 3 tries"):
        conn.write(spec(), [{"id": "p1", "name": "Post"}])


@pytest.mark.parametrize("escape", ["/plain/customers", "/linkx/customers",
                                    "/link/../plain/customers"])
def test_next_link_outside_the_base_path_is_refused(server: Server, escape: str) -> None:
    server.state.seed(7)
    server.state.auth = "bearer"
    settings = RestSettings(base_url=server.url + "/link", retry=FAST, auth="bearer",
                            token="right", resources={"/customers": {
                                "pagination": {"style": "link"},
                                "params": {"limit": "3", "escape": escape}}})
    with RestConnector(settings, system="crm", base_dir=Path(".")) as conn, \
            pytest.raises(FatalConnectorError, match="outside the base path") as refused:
        list(conn.read(StreamSpec("/customers", ("id",))))
    assert len(server.state.log) == 1  # the token never went to the other path
    message = str(refused.value)
    assert escape.split("?")[0] in message and "right" not in message


def test_next_link_under_the_base_path_is_followed(server: Server) -> None:
    server.state.seed(7)
    settings = RestSettings(base_url=server.url + "/link", retry=FAST,
                            resources={"/customers": {"pagination": {"style": "link"},
                                                      "params": {"limit": "3"}}})
    with RestConnector(settings, system="crm", base_dir=Path(".")) as conn:
        assert len(ids(list(conn.read(StreamSpec("/customers", ("id",)))))) == 7
    assert len(server.state.log) == 3
