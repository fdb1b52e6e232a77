"""The dashboard end to end in a real headless Chromium: log in, search a record, see a
masked and a withheld field, open its trace, the reports and the quarantine.

Screenshots go to KONTOR_SCREENSHOTS when set (the docs use docs/screenshots/).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hub.auth.roles import Role
from hub.store import goldens
from tests.api.kit import Served
from tests.web.browser import chromium, running


def _shoot(page: Any, name: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def _login(page: Any, base: str, token: str) -> None:
    page.goto(f"{base}/ui/login")
    page.fill("#token", token)
    page.click("#login")
    page.wait_for_load_state()


def test_dashboard_in_a_real_browser(served: Served, tmp_path: Path) -> None:
    shots = Path(os.environ.get("KONTOR_SCREENSHOTS") or tmp_path / "shots")
    with served.hub.engine.connect() as conn:
        stored = goldens.read(conn, served.hub.sealer, "employee", ["E-1002"])["E-1002"]
    restricted = [str(stored[f]) for f in ("iban", "sick_leave_reason", "national_id",
                                           "salary") if stored[f]]
    with running(served.app) as base, chromium(tmp_path / "profile") as browser:
        page = browser.new_page()
        page.goto(f"{base}/ui/records")
        assert page.url.endswith("/ui/login")  # no session: the login page
        _shoot(page, "login", shots)

        _login(page, base, "kt_" + "z" * 43)
        assert "unknown, expired or revoked" in page.inner_text("#login-error")

        _login(page, base, served.tokens[Role.AUDITOR])
        assert page.url.endswith("/ui/overview")
        assert "crm" in page.inner_text("#systems")
        _shoot(page, "overview", shots)

        page.click("text=Records")
        page.select_option("#entity", "employee")
        page.fill("#q", str(stored["last_name"]))
        page.click("#search")
        page.click("#results >> text=E-1002")
        page.wait_for_load_state()
        assert page.url.endswith("/ui/records/employee/E-1002")
        withheld = page.inner_text('[data-field="sick_leave_reason"]')
        assert "withheld by policy" in withheld
        masked = page.inner_text('[data-field="iban"] td:nth-child(3)')
        assert "mask" in masked and "*" in masked
        assert masked.split()[0].endswith(str(stored["iban"])[-4:])
        text = page.inner_text("body")
        assert all(value not in text for value in restricted)
        assert "hr" in page.inner_text('[data-field="work_email"]')  # provenance
        empty_rows = page.locator("#fields tr.empty")
        assert empty_rows.count() > 0 and empty_rows.first.is_visible()
        page.check("#hide-empty")  # the page's script runs under the CSP nonce
        assert not empty_rows.first.is_visible()
        page.uncheck("#hide-empty")
        _shoot(page, "record", shots)

        page.click("#trace-link")
        page.wait_for_load_state()
        trace = page.inner_text("#trace")
        assert "restricted read" in trace and "web by auditor" in trace
        assert "version" in trace
        _shoot(page, "trace", shots)

        page.click("text=Reports")
        assert page.locator("svg.chart").count() >= 6
        _shoot(page, "reports", shots)
        page.click("#logout")
        page.wait_for_load_state()
        assert page.url.endswith("/ui/login")
        page.goto(f"{base}/ui/overview")
        assert page.url.endswith("/ui/login")

        _login(page, base, served.tokens[Role.ADMIN])
        page.click("text=Quarantine")
        rows = page.locator("#quarantine tr")
        before = rows.count()
        assert before > 2
        page.fill("#filter", "kunden.csv")
        visible = sum(rows.nth(i).is_visible() for i in range(before))
        assert 1 < visible < before
        page.fill("#filter", "")
        _shoot(page, "quarantine", shots)
        page.click("text=Review queue")
        pair = page.locator("section.pair").first
        assert "score" in pair.locator("h2").inner_text()
        assert page.locator("table.compare tr.differs").count() >= 1  # the emails differ
        _shoot(page, "review", shots)
        pair.locator("button[value=merge]").click()
        page.wait_for_load_state()
        assert "merged by test-admin" in page.inner_text("#decided")
        assert page.locator("#review-empty").is_visible()
