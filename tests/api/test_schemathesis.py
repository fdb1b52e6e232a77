"""The OpenAPI document tells the truth: schemathesis runs every phase (examples, coverage,
fuzzing, stateful) with every check against the app, generating valid and invalid requests
with an admin token, and finds no failure.

Checks include status codes and content types being documented, response bodies and
headers matching their schemas, valid requests accepted and invalid ones rejected, missing
and ignored authentication, and resources that vanish or outlive their deletion.

Driven through schemathesis' engine (what ``st run`` runs; its pytest plugin does not
support pytest 9 yet), in process, deterministic, and bounded to keep the run near a minute.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import schemathesis
from schemathesis.engine import events, from_schema

from hub.auth.roles import Role
from tests.api.kit import demo_hub, serve

EXAMPLES = 12  # per operation, phase and generation mode
STEPS = 12  # per stateful scenario


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
            # Precondition Required, the one status made for this header.
            "missing_required_header": {
                "expected-statuses": [400, 401, 403, 406, 415, 422, 428]},
        },
    })


def failures_found(schema: schemathesis.BaseSchema) -> tuple[list[str], list[str]]:
    """Every distinct check failure (check, operation, status, message) and engine error."""
    found: set[str] = set()
    errors: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.NonFatalError | events.FatalError):
            errors.append(str(getattr(event, "value", None) or event.exception))
        if not isinstance(event, events.ScenarioFinished):
            continue
        recorder = event.recorder
        for case_id, checks in recorder.checks.items():
            interaction = recorder.interactions.get(case_id)
            status = interaction.response.status_code if interaction and \
                interaction.response else None
            for check in checks:
                if check.failure_info is None:
                    continue
                failure = check.failure_info.failure
                message = " / ".join(failure.message.splitlines()[:2])
                found.add(f"{check.name} | {failure.operation} | {status} | {message}")
    return sorted(found), errors


def test_the_openapi_document_tells_the_truth(tmp_path: Path) -> None:
    served = serve(demo_hub(tmp_path / "hub"))
    schema = schemathesis.openapi.from_asgi("/openapi.json", served.app,
                                            config=config(served.tokens[Role.ADMIN]))
    assert len(list(schema.get_all_operations())) > 25  # REST and SCIM are both there
    found, errors = failures_found(schema)
    served.hub.close()
    by_check = Counter(line.split(" | ")[0] for line in found)
    assert not found, f"{len(found)} failures {dict(by_check)}:\n" + "\n".join(found)
    assert not errors, errors
