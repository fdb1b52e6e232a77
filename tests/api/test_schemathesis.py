"""The OpenAPI document tells the truth: schemathesis runs every phase (examples, coverage,
fuzzing, stateful) with every check against the app, generating valid and invalid requests
with an admin token, and finds no failure.

The checks: no server error; every status, content type, response header and body as
documented; valid requests accepted and invalid ones rejected; missing required headers
and missing or wrong credentials refused; `Allow` on a 405 listing the resource's methods;
resources that vanish or outlive their deletion.

SCIM filters, sort attributes and PATCH paths follow grammars JSON Schema cannot state:
the document names them by ``format``, and ``FORMATS`` teaches schemathesis to draw them.
The SCIM operations run apart, without schemathesis' source analysis (see ``config``).

Driven through schemathesis' engine (what ``st run`` runs; its pytest plugin does not
support pytest 9 yet), in process, deterministic, bounded to about two minutes.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.engine import events, from_schema
from schemathesis.specs.openapi import unregister_string_format

from hub.api.scim import bodies
from hub.auth.roles import Role
from tests.api.kit import demo_hub, serve

EXAMPLES = 12  # per operation, phase and generation mode
STEPS = 12  # per stateful scenario

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
KONTOR = "urn:kontor:params:scim:schemas:extension:kontor:2.0:Employee"


# -- the SCIM grammars the document names by `format` (hub/api/scim/bodies.py FORMATS) --
# Written here from RFC 7644 and the formats' descriptions, not from the server's code,
# for the admin token on the demo deployment. They draw requests that are valid in every
# state of the store: no value filter that could select nothing (400 noTarget).

def _spelled(*names: str) -> st.SearchStrategy[str]:
    """A name as written, or in lower or upper case: attribute names are case-insensitive."""
    return st.sampled_from(names).flatmap(
        lambda n: st.sampled_from([n, n.lower(), n.upper()]))


_TEXT = st.text(max_size=12).map(json.dumps) | st.integers(-999, 999).map(str)
_WHEN = st.datetimes(timezones=st.just(dt.UTC)).map(lambda d: json.dumps(d.isoformat()))
_DAY = st.dates().map(lambda d: json.dumps(d.isoformat()))


def _compared(names: st.SearchStrategy[str], ops: tuple[str, ...],
              values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda n, o, v: f"{n} {o} {v}", names, st.sampled_from(ops), values)


_ORDERED = ("eq", "ne", "gt", "ge", "lt", "le")
_ALL = (*_ORDERED, "co", "sw", "ew")
_TEXT_ATTRS = _spelled(
    "id", "externalId", "userName", f"{CORE}:userName", "name.givenName", "name.familyName",
    "title", "employeeNumber", f"{ENTERPRISE}:employeeNumber", f"{ENTERPRISE}:department",
    "emails", "emails.value", "emails.type", "phoneNumbers", "phoneNumbers.value",
    "phoneNumbers.type", "addresses.streetAddress", "addresses.postalCode",
    "addresses.locality", "addresses.country", "addresses.type")
_SUB_ATTRS = {"emails": ("value", "type"), "phoneNumbers": ("value", "type"),
              "addresses": ("streetAddress", "postalCode", "locality", "country", "type")}


def _value_filter(attr: str) -> st.SearchStrategy[str]:
    inner = _compared(_spelled(*_SUB_ATTRS[attr]), _ALL, _TEXT) | \
        _spelled(*_SUB_ATTRS[attr]).map(lambda n: f"{n} pr")
    joined = st.recursive(inner, lambda f: st.builds(
        lambda a, j, b: f"{a} {j} {b}", f, st.sampled_from(["and", "or"]), f) |
        f.map(lambda x: f"not ({x})"), max_leaves=3)
    return joined.map(lambda x: f"{attr}[{x}]")


_ATOMS = st.one_of(
    _compared(_TEXT_ATTRS, _ALL, _TEXT),
    _compared(_TEXT_ATTRS, ("eq", "ne"), st.just("null")),
    _TEXT_ATTRS.map(lambda n: f"{n} pr"),
    _compared(_spelled("active"), ("eq", "ne"), st.sampled_from(["true", "false"])),
    _compared(_spelled("emails.primary"), ("eq", "ne"), st.sampled_from(["true", "false"])),
    _compared(_spelled("meta.created", "meta.lastModified"), _ORDERED, _WHEN),
    _compared(_spelled(f"{KONTOR}:hire_date", "date_of_birth"), _ORDERED, _DAY),
    _compared(_spelled(f"{KONTOR}:salary"), _ORDERED,
              st.decimals(-10**6, 10**6, places=2).map(str)),
    st.sampled_from(sorted(_SUB_ATTRS)).flatmap(_value_filter),
)
FILTERS = st.recursive(_ATOMS, lambda f: st.one_of(
    st.builds(lambda a, j, b: f"{a} {j} {b}", f, st.sampled_from(["and", "or", "AND"]), f),
    f.map(lambda x: f"({x})"), f.map(lambda x: f"not ({x})")), max_leaves=4)
SORTABLE = _spelled("id", "externalId", "userName", "emails", "emails.value",
                    "name.givenName", "name.familyName", "title", "employeeNumber",
                    f"{ENTERPRISE}:department", "meta.created", "meta.lastModified",
                    f"{KONTOR}:hire_date", f"{KONTOR}:salary")
_STRING_PATHS = (
    "name.givenName", "name.familyName", "title", f"{CORE}:title", "externalId",
    "employeeNumber", f"{ENTERPRISE}:employeeNumber", "department", f"{ENTERPRISE}:manager.value",
    'phoneNumbers[type eq "work"].value', 'addresses[type eq "home"].streetAddress',
    'addresses[type eq "home"].postalCode', 'addresses[type eq "home"].locality',
    'addresses[type eq "home"].country',
    f"{KONTOR}:iban")  # masked for admins: 403, as documented for any route
JSON_SCHEMA_FORMATS = {"date", "date-time", "time", "duration", "email", "uri", "uuid",
                       "int32", "int64", "float", "double", "binary", "byte", "password"}
FORMATS: dict[str, st.SearchStrategy[str]] = {
    "scim-filter": FILTERS,
    "scim-sort-by": SORTABLE,
    "scim-path-string": _spelled(*_STRING_PATHS),
    "scim-path-email": _spelled('emails[type eq "work"].value', 'emails[type eq "home"].value'),
    "scim-path-boolean": _spelled("active", f"{CORE}:active"),
    # A value filter without a sub-attribute selects values that may not exist (noTarget):
    # none is valid in every state, so these draw none.
    "scim-path-email-item": st.nothing(),
    "scim-path-phone-item": st.nothing(),
    "scim-path-address-item": st.nothing(),
    "entity-tag": st.sampled_from(['*', 'W/"{}"', '"{}"']).flatmap(
        lambda tag: st.integers(0, 10**18 - 1).map(lambda n: tag.format(n))),
    "scim-path-removable": _spelled(
        "title", "externalId", "name", "name.givenName", "emails", "phoneNumbers",
        "addresses", 'addresses[type eq "home"].locality', f"{ENTERPRISE}:department",
        "employeeNumber", f"{ENTERPRISE}:manager", ENTERPRISE, KONTOR),
}


def config(token: str, *, scim: bool = False) -> schemathesis.Config:
    """``scim``: for the SCIM operations, whose filters and PATCH paths are formats
    schemathesis cannot check. Its source analysis puts string literals of the server's
    code (``"application/json"``) into string fields it judges valid by their schema, and
    for such a format every string passes: so not there."""
    return schemathesis.Config.from_dict({
        "analysis": {"constants": {"enabled": not scim}},
        # Writes to one User: random ids would only ever meet 404 (and 404 is tried on GET
        # and DELETE, and by the checks), leaving the bodies untried.
        "operations": [{"include-name": f"{method} /scim/v2/Users/{{user_id}}",
                        "parameters": {"user_id": user}}
                       for method, user in (("PUT", "E-1003"), ("PATCH", "E-1004"))],
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
    formats: set[str] = field(default_factory=set)  # the document's own formats

    def merge(self, other: Run) -> None:
        self.failures |= other.failures
        self.errors += other.errors
        self.checked += other.checked
        self.operations |= other.operations


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


def _formats(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("format"), str) and node["format"] not in JSON_SCHEMA_FORMATS:
            yield node["format"]
        for value in node.values():
            yield from _formats(value)
    elif isinstance(node, list):
        for value in node:
            yield from _formats(value)


def _listing(failures: set[Failure]) -> str:
    by_check = Counter(f.check for f in failures)
    return f"{len(failures)} failures {dict(by_check)}:\n" + "\n".join(
        map(str, sorted(failures, key=lambda f: (f.check, f.operation, str(f.status)))))


@contextmanager
def formats_taught() -> Iterator[None]:
    for name, strategy in FORMATS.items():
        schemathesis.openapi.format(name, strategy)
    try:
        yield
    finally:
        for name in FORMATS:
            unregister_string_format(name)


@pytest.fixture(scope="module", params=["rest", "scim"])
def found(request: pytest.FixtureRequest) -> Run:
    """The run over the REST operations, or over the SCIM ones."""
    return _run_half(request.param)


@functools.cache
def _run_half(part: str) -> Run:
    """Once per test process (`make test` keeps a module on one worker): pytest may ask
    for one half, then the other, then the first again, and would set it up anew."""
    served = serve(demo_hub(Path(tempfile.mkdtemp(prefix=f"schemathesis-{part}-")) / "hub"))
    try:
        token = served.tokens[Role.ADMIN]
        if part == "rest":
            rest = schemathesis.openapi.from_asgi("/openapi.json", served.app,
                                                  config=config(token))
            found = run(rest.exclude(path_regex="^/scim/"))
            found.formats = set(_formats(rest.raw_schema))  # the whole document's
            return found
        scim = schemathesis.openapi.from_asgi(
            "/openapi.json", served.app, config=config(token, scim=True))
        with formats_taught():
            found = run(scim.include(path_regex="^/scim/"))
        found.formats = set(_formats(scim.raw_schema))
        return found
    finally:
        served.hub.close()
        shutil.rmtree(served.hub.deployment.base_dir.parent, ignore_errors=True)


#: Checks that have nothing to judge in one half: SCIM's PATCH and PUT run on one fixed
#: User each (see ``config``), so no resource is created there to be used after deletion.
NOT_IN: dict[str, set[str]] = {"rest": set(), "scim": set()}


def test_every_operation_ran_every_check(found: Run, request: pytest.FixtureRequest) -> None:
    part = request.node.callspec.params["found"]
    assert not found.errors, found.errors
    assert len(found.operations) > {"rest": 30, "scim": 6}[part], sorted(found.operations)
    # Each check judged responses (max_response_time only runs with a limit set).
    unused = {"not_a_server_error", "status_code_conformance", "content_type_conformance",
              "response_headers_conformance", "response_schema_conformance",
              "positive_data_acceptance", "negative_data_rejection",
              "missing_required_header", "unsupported_method", "allow_header_conformance",
              "use_after_free", "ensure_resource_availability", "ignored_auth",
              "object_level_authorization"} - set(found.checked) - NOT_IN[part]
    assert not unused, unused


def test_the_api_conforms_to_its_document(found: Run) -> None:
    assert not found.failures, _listing(found.failures)


def test_every_format_of_the_document_is_drawn(found: Run) -> None:
    """FORMATS teaches the generator every format the document names beyond JSON
    Schema's own (one it did not know would be drawn as any string)."""
    assert found.formats, "the document names no SCIM format"
    assert found.formats <= set(FORMATS) <= set(bodies.FORMATS), found.formats


def test_patch_bodies_drawn_from_the_document_are_accepted(tmp_path: Path) -> None:
    """PatchOp is the richest body (a kind of operation per kind of target): many more of
    its valid bodies than the run above draws, each sent to an existing User."""
    served = serve(demo_hub(tmp_path / "hub", customers=10, employees=4))
    answers: Counter[int] = Counter()
    refused: list[str] = []
    try:
        with formats_taught():
            schema = schemathesis.openapi.from_asgi(
                "/openapi.json", served.app, config=config(served.tokens[Role.ADMIN], scim=True))
            patch = schema["/scim/v2/Users/{user_id}"]["PATCH"]

            @settings(max_examples=100, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck))
            @given(patch.as_strategy())
            def send(case: Any) -> None:
                case.path_parameters = {"user_id": "E-1003"}
                response = case.call()
                answers[response.status_code] += 1
                # 403: a field this token sees masked; 409: a userName or e-mail taken;
                # 412: an If-Match naming another version.
                if response.status_code not in (200, 403, 409, 412):
                    refused.append(f"{case.body!r:.300} -> {response.text[:200]}")

            send()
    finally:
        served.hub.close()
    assert not refused, "\n".join(refused[:10])
    assert answers[200] > 50, answers
