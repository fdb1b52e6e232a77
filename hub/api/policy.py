"""Policy simulation: what one destination would receive of one golden record, field by field.

The caller sees each field's decision (action, rule, legal basis); a value only when the
caller's own role may see that field in clear, so simulating never widens what one sees.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from hub.api.deps import ConnDep, HubDep, disclosure
from hub.api.disclosure import business_values
from hub.api.openapi import AUTHENTICATED, problems
from hub.api.problems import ApiProblem, NotFound
from hub.api.security import PolicySimulator
from hub.api.writes import load
from hub.auth.roles import Role, destination
from hub.context import Hub
from hub.records import jsonable
from policies.gate import Destination

router = APIRouter(prefix="/api/v1", responses=AUTHENTICATED)
_AMBIGUOUS = "The system has several outbound streams of this entity: name one (system.stream)"


def resolve(hub: Hub, name: str, entity: str) -> tuple[Destination, list[str] | None]:
    """The destination ``name`` means, and the fields it asks for (None: all of them).

    ``system.stream`` names an outbound stream; a bare system name its only outbound stream
    of this entity; ``api:<role>`` what API callers with that role see.
    """
    if name.startswith("api:"):
        try:
            return destination(Role(name[4:])), None
        except ValueError:
            raise NotFound(f"role {name[4:]!r}") from None
    system_name, _, stream_name = name.partition(".")
    system = hub.deployment.systems.get(system_name)
    if system is None:
        raise NotFound(f"system {system_name!r}")
    streams = [s for s in system.streams if s.config.direction == "outbound"
               and s.entity == entity and (not stream_name or s.name == stream_name)]
    if not streams:
        raise NotFound(f"outbound {entity} stream of system {name!r}")
    if len(streams) > 1:
        raise ApiProblem(f"system {system_name!r} has several outbound {entity} streams: "
                         + ", ".join(s.label for s in streams) + "; name one")
    stream = streams[0]
    return (Destination(stream.label, "system", stream.config.purpose),
            list(stream.mapping.canonical_fields))


@router.get("/policy/simulate", tags=["policy"],
            summary="What a destination would receive of one golden record, field by field",
            responses=problems((400, _AMBIGUOUS), (404, "No such record, system, stream or role")))
def simulate(
    request: Request, caller: PolicySimulator, hub: HubDep, conn: ConnDep,
    system: Annotated[str, Query(max_length=200,
                                 description="system, system.stream, or api:<role>")],
    entity: Annotated[Literal["customer", "employee"], Query()],
    id: Annotated[str, Query(max_length=32, description="Golden record id")],
) -> dict[str, Any]:
    dest, asked = resolve(hub, system, entity)
    row = load(conn, hub.sealer, entity, id)
    record = business_values(row)
    values = record if asked is None else {f: record.get(f) for f in asked}
    released, decisions = request.app.state.gate.release(entity, values, dest, record=record,
                                                         record_id=id)
    view = disclosure(request, caller)
    fields = []
    shown = []
    for d in decisions:
        entry: dict[str, Any] = {"field": d.field, "category": d.category,
                                 "action": d.action.value, "rule": d.rule,
                                 "legal_basis": d.legal_basis}
        if d.field in released and view.in_clear(entity, d.field):
            entry["value"] = released[d.field]
            shown.append(d.field)
        fields.append(entry)
    view.note_shown(entity, {id: [f for f in shown if released[f] is not None]})
    return jsonable({"destination": {"name": dest.name, "kind": dest.kind,
                                     "purpose": dest.purpose},
                     "entity": entity, "id": id, "policy_version": request.app.state.gate.version,
                     "fields": fields}, sort=False)
