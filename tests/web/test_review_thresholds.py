"""The review page shows, once stewards have decided pairs, how auto-merging at each
threshold would have done on their decisions."""

from __future__ import annotations

import re

from defusedxml.ElementTree import fromstring

from hub.auth.roles import Role
from tests.api.kit import Served
from tests.web.test_pages import login


def test_the_review_page_charts_the_decisions_once_there_are_some(served: Served) -> None:
    steward = login(served, Role.STEWARD)
    page = steward.get("/ui/review")
    assert page.status_code == 200 and 'id="thresholds-' not in page.text
    pair_id = re.search(r'id="pair-(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = steward.post(f"/ui/review/{pair_id}", data={"decision": "keep_apart",
                                                       "csrf": csrf})
    assert done.status_code == 303
    after = steward.get(done.headers["location"]).text
    section = re.search(r'<section class="thresholds" id="thresholds-customer">(.*?)'
                        r"</section>", after, re.DOTALL)
    assert section, after[-2000:]
    svg = re.search(r"<svg.*?</svg>", section.group(1), re.DOTALL).group(0)  # type: ignore[union-attr]
    root = fromstring(svg)  # well-formed, named for screen readers
    assert root[0].text == "Auto-merge at each threshold: customer (1 decisions)"
    assert "precision 0.0%" in (root[1].text or "")  # the one pair was kept apart
    # one decision, kept apart: no threshold reaches 0.99
    assert "no threshold reaches precision 0.99" in section.group(1)
