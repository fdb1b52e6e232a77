"""The OpenAPI document tells the truth: schemathesis runs every phase (examples, coverage,
fuzzing, stateful) with every check against the app, generating valid and invalid requests
with an admin token, and finds no failure.

The checks: no server error; every status, content type, response header and body as
documented; valid requests accepted and invalid ones rejected; missing required headers
and missing or wrong credentials refused; `Allow` on a 405 listing the resource's methods;
resources that vanish or outlive their deletion.

Driven through schemathesis' engine (what ``st run`` runs; its pytest plugin does not
support pytest 9 yet), in process, deterministic, bounded to about a minute.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import events, from_schema

from hub.auth.roles import Role
from tests.api.kit import demo_hub, serve

EXAMPLES = 12  # per operation, phase and generation mode
STEPS = 12  # per stateful scenario

# Failures under /scim/ that need changes in hub/api/scim/ (issue 15, point 4), as
# (check, operation, status). Remove an entry once its fix lands.
SCIM_PENDING = {
    # `filter` is a grammar (RFC 7644 §3.4.2.2) the document gives as any string; and
    # `attributes` / `excludedAttributes` naming an unknown attribute are refused.
    ("positive_data_acceptance", "GET /scim/v2/Users", 400),
    ("positive_data_acceptance", "GET /scim/v2/Users/{user_id}", 400),
    # Request bodies are documented as any object: a User without userName, a PatchOp
    # without Operations and a SearchRequest with a non-integer startIndex are refused.
    ("positive_data_acceptance", "POST /scim/v2/Users", 400),
    ("positive_data_acceptance", "PUT /scim/v2/Users/{user_id}", 400),
    ("positive_data_acceptance", "PATCH /scim/v2/Users/{user_id}", 400),
    ("positive_data_acceptance", "POST /scim/v2/.search", 400),
    ("positive_data_acceptance", "POST /scim/v2/Users/.search", 400),
    # `If-Match` is documented as any string; one that is no ETag (`null`) gets a 412.
    ("positive_data_acceptance", "PUT /scim/v2/Users/{user_id}", 412),
    ("positive_data_acceptance", "PATCH /scim/v2/Users/{user_id}", 412),
    ("positive_data_acceptance", "DELETE /scim/v2/Users/{user_id}", 412),
}


def config(token: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": 20260101,
        "headers": {"Authorization": f"Bearer {token}"},
        "workers": 1,
        "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True,
                       "database": "none"},
        "phases": {"stateful": {"max-steps": STEPS}},
        "checks": {
            "enabled": True,
            # RFC 6585: a write without the If-Match it must carry is answered 428
            # Precondition Required, the status made for it.
            "missing_required_header": {
                "expected-statuses": [400, 401, 403, 406, 415, 422, 428]},
            # 412: a well-formed If-Match naming another version than the current one.
            # Which version is current is state, not schema, like the 409 of a taken
            # unique value that schemathesis' default list already has.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", 401, 403, 404, 409, 412, 429, "5xx"]},
        },
    })


@dataclass(frozen=True)
class Failure:
    check: str
    operation: str
    status: int | None
    message: str
    example: str = field(compare=False)

    def __str__(self) -> str:
        return f"{self.check} | {self.operation} | {self.status} | {self.message}\n" \
               f"{self.example}"


@dataclass
class Run:
    failures: set[Failure] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)  # check -> responses checked
    operations: set[str] = field(default_factory=set)


def run(schema: schemathesis.BaseSchema) -> Run:
    found = Run()
    for event in from_schema(schema).execute():
        if isinstance(event, events.NonFatalError):
            found.errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            found.errors.append(repr(event.exception))
        elif isinstance(event, events.ScenarioFinished):
            found.operations.add(event.recorder.label)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    found.checked[check.name] += 1
                    if check.failure_info is not None:
                        found.failures.add(_failure(event, case_id, check))
    return found


def _failure(event: events.ScenarioFinished, case_id: str, check: Any) -> Failure:
    """The failure with the request and answer of one example (never the token)."""
    failure = check.failure_info.failure
    interaction = event.recorder.interactions.get(case_id)
    request, response = (interaction.request, interaction.response) if interaction \
        else (None, None)
    sent = ""
    if request is not None:
        sent_headers = {k.lower(): v for k, v in request.headers.items()
                        if k.lower() != "authorization"}
        sent = f"{request.method} {request.uri} {sent_headers} {(request.body or b'')[:150]!r}"
    answer = response.content[:200].decode(errors="replace") if response else ""
    return Failure(check.name, str(failure.operation),
                   response.status_code if response else None,
                   " / ".join(failure.message.splitlines()[:2]),
                   f"    [{event.phase.value}] {sent}\n    -> {answer}")


def _listing(failures: set[Failure]) -> str:
    by_check = Counter(f.check for f in failures)
    return f"{len(failures)} failures {dict(by_check)}:\n" + "\n".join(
        map(str, sorted(failures, key=lambda f: (f.check, f.operation, str(f.status)))))


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    served = serve(demo_hub(tmp_path_factory.mktemp("hub")))
    schema = schemathesis.openapi.from_asgi("/openapi.json", served.app,
                                            config=config(served.tokens[Role.ADMIN]))
    yield run(schema)
    served.hub.close()


def test_every_operation_ran_every_check(found: Run) -> None:
    assert not found.errors, found.errors
    assert len(found.operations) > 40, sorted(found.operations)  # REST and SCIM
    # Each check judged responses (max_response_time only runs with a limit set).
    unused = {"not_a_server_error", "status_code_conformance", "content_type_conformance",
              "response_headers_conformance", "response_schema_conformance",
              "positive_data_acceptance", "negative_data_rejection",
              "missing_required_header", "unsupported_method", "allow_header_conformance",
              "use_after_free", "ensure_resource_availability", "ignored_auth",
              "object_level_authorization"} - set(found.checked)
    assert not unused, unused


def test_the_rest_api_conforms_to_its_document(found: Run) -> None:
    rest = {f for f in found.failures if " /scim/" not in f.operation}
    assert not rest, _listing(rest)


def test_scim_conforms_but_for_the_pending_fixes(found: Run) -> None:
    scim = {f for f in found.failures if " /scim/" in f.operation}
    unexpected = {f for f in scim if (f.check, f.operation, f.status) not in SCIM_PENDING}
    assert not unexpected, _listing(unexpected)
