"""An independent SCIM 2.0 conformance suite (scim2-tester, by python-scim) against a real
Kontor API: uvicorn on a 127.0.0.1 port, a system token, the demo deployment.

scim2-tester reads the discovery documents, then creates, reads, searches, replaces,
patches (add, replace, remove of every optional attribute) and deletes Users with random
values. Every check must pass. Run alone: ``.venv/bin/python -m pytest -q -p no:cacheprovider -s
tests/api/test_scim_conformance.py`` (``-s`` prints every check).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from scim2_client import BaseSyncSCIMClient
from scim2_client.errors import RequestNetworkException
from scim2_tester import CheckResult, Status, check_server

from hub.auth.roles import Role
from hub.context import open_hub
from hub.demo import write_demo
from hub.sync.runner import run_sync
from tests.api.kit import serve
from tests.web.browser import running

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
# A custom employee field, so the suite also writes through Kontor's extension: in the
# stock demo the system role may only read that extension (dates, a masked IBAN).
CUSTOM = "\ncustom_fields:\n  employee:\n    cost_center: {type: str, category: user.workplace}\n"
# `active` follows the termination date (RFC 7643 §4.1.1: "The definitive meaning of this
# attribute is determined by the service provider"), so a User always has it: /Schemas
# declares it required, and removing it is refused with 400 "mutability" (RFC 7644 §3.5.2:
# an operation must be compatible with the attribute's schema). The suite adds and removes
# optional attributes only, so it replaces `active` but no longer tries to remove it.
REQUIRED = {"userName", "active"}


class HttpxScimClient(BaseSyncSCIMClient):
    """scim2-client over httpx (its own engine wants httpx2, which we do not install)."""

    def __init__(self, client: httpx.Client, **kwargs: Any):
        super().__init__(**kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        url, base = self.client.build_request("GET", endpoint).url, self.client.base_url
        return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port) \
            and url.raw_path.startswith(base.raw_path)

    def _parse_json(self, response: Any) -> Any:
        return response.json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            raise RequestNetworkException() from exc


def _attribute(result: CheckResult) -> str | None:
    return result.data.get("urn") if isinstance(result.data, dict) else None


def _line(result: CheckResult) -> str:
    where = _attribute(result)
    return (f"{result.status.name} {result.title}{f' [{where}]' if where else ''}: "
            f"{(result.reason or '').splitlines()[0] if result.reason else ''}")


def test_scim2_tester_passes_every_check(tmp_path: Path) -> None:
    summary = write_demo(tmp_path / "hub", customers=40, employees=20, seed=7)
    summary.config.write_text(summary.config.read_text(encoding="utf-8") + CUSTOM,
                              encoding="utf-8")
    hub = open_hub(summary.config)
    try:
        run_sync(hub.deployment, hub.engine)
        served = serve(hub)
        with running(served.app) as base, httpx.Client(
                base_url=f"{base}/scim/v2/", headers=served.auth(Role.SYSTEM),
                timeout=30) as http:
            results = check_server(HttpxScimClient(http))
            schema = http.get(f"Schemas/{CORE}").json()
    finally:
        hub.close()

    print(f"\nscim2-tester: {len(results)} checks, "
          f"{dict(Counter(r.status.name for r in results))}")
    for result in results:
        print(" ", _line(result))
    failed = [r for r in results if r.status not in PASSED]
    assert not failed, "scim2-tester checks failed:\n" + "\n".join(map(_line, failed))
    assert len(results) >= 70  # every phase ran: discovery, CRUD, search, each PATCH path
    assert ("check_replace_attribute", "active") in {(r.title, _attribute(r)) for r in results}
    assert {a["name"] for a in schema["attributes"] if a["required"]} == REQUIRED
