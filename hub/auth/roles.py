"""Roles and what each may do: the one place that grants permissions.

Permissions say which endpoints a role may call; *which fields* it then sees is the privacy
gate's decision for the destination ``api:<role>`` (see ``destination``).
"""

from __future__ import annotations

import enum

from policies.gate import Destination


class Role(str, enum.Enum):
    ADMIN = "admin"
    STEWARD = "steward"  # curates golden records, decides merges
    AUDITOR = "auditor"  # compliance: traces, policy simulation, reports
    OPERATOR = "operator"  # runs the syncs: systems, runs, quarantine
    READER = "reader"  # looks records up
    SYSTEM = "system"  # a back-office system pushing and pulling records (REST, SCIM)


class Permission(str, enum.Enum):
    RECORDS_READ = "records:read"
    RECORDS_WRITE = "records:write"
    OPERATIONS_READ = "operations:read"  # systems, runs
    QUARANTINE_READ = "quarantine:read"
    OUTBOX_MANAGE = "outbox:manage"  # retry dead letters
    REVIEW = "review:decide"  # the steward's review queue: see and decide pairs
    POLICY_SIMULATE = "policy:simulate"
    AUDIT_READ = "audit:read"
    REPORTS_READ = "reports:read"
    SCIM = "scim"
    DASHBOARD = "dashboard"  # may log in to the web dashboard


P = Permission
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.STEWARD: frozenset({P.RECORDS_READ, P.RECORDS_WRITE, P.OPERATIONS_READ,
                             P.QUARANTINE_READ, P.REVIEW, P.POLICY_SIMULATE, P.REPORTS_READ,
                             P.DASHBOARD}),
    Role.AUDITOR: frozenset({P.RECORDS_READ, P.OPERATIONS_READ, P.POLICY_SIMULATE,
                             P.AUDIT_READ, P.REPORTS_READ, P.DASHBOARD}),
    Role.OPERATOR: frozenset({P.OPERATIONS_READ, P.QUARANTINE_READ, P.OUTBOX_MANAGE,
                              P.REPORTS_READ, P.DASHBOARD}),
    Role.READER: frozenset({P.RECORDS_READ, P.DASHBOARD}),
    Role.SYSTEM: frozenset({P.RECORDS_READ, P.RECORDS_WRITE, P.SCIM}),
}

# The purpose (a Fides data use) each role reads personal data for; policies may use it.
PURPOSES: dict[Role, str] = {
    Role.ADMIN: "essential.service.operations",
    Role.STEWARD: "essential.service.operations.support",
    Role.AUDITOR: "essential.legal_obligation",
    Role.OPERATOR: "essential.service.operations",
    Role.READER: "essential.service",
    Role.SYSTEM: "essential.service",
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


def destination(role: Role) -> Destination:
    """The privacy gate's destination for callers with ``role`` (API, SCIM and dashboard)."""
    return Destination(name=f"api:{role.value}", kind="api", purpose=PURPOSES[role])
